// The console's session cookie: which token logged in (its sha256, never the token), when
// the session ends, and a random id the CSRF token is derived from. Signed with HMAC-SHA256
// under a key made at random when the process starts (the config holds no key for it), so
// a restart ends every session. HttpOnly, SameSite=Strict, Path=/console, Max-Age.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";

export const sessionCookie = "mailspool_console";
export const sessionSeconds = 8 * 3600;

export interface Session {
  /** sha256 (hex) of the token that logged in; "" when no tokens are configured. */
  token: string;
  /** Milliseconds since the epoch. */
  expires: number;
  /** Random: the CSRF token is its MAC. */
  id: string;
}

export class Sessions {
  private readonly key = randomBytes(32);

  private mac(purpose: string, value: string): string {
    return createHmac("sha256", this.key).update(`${purpose}\0${value}`).digest("base64url");
  }

  /** The session the request's cookie carries, when its signature holds and it has not expired. */
  read(c: Context): Session | undefined {
    const value = getCookie(c, sessionCookie);
    const [payload = "", signature = ""] = value?.split(".") ?? [];
    if (!payload || !equal(signature, this.mac("session", payload))) return undefined;
    const session = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Session;
    return session.expires > Date.now() ? session : undefined;
  }

  /** The sha256 of the token the request's session stands for (the access check compares it). */
  tokenDigest(c: Context): Buffer | undefined {
    const digest = Buffer.from(this.read(c)?.token ?? "", "hex");
    return digest.length === 32 ? digest : undefined;
  }

  /** Starts a session for this token digest (hex; "" without tokens) and sets its cookie. */
  start(c: Context, token: string): Session {
    const session: Session = {
      token,
      expires: Date.now() + sessionSeconds * 1000,
      id: randomBytes(16).toString("hex"),
    };
    const payload = Buffer.from(JSON.stringify(session)).toString("base64url");
    setCookie(c, sessionCookie, `${payload}.${this.mac("session", payload)}`, {
      path: "/console",
      httpOnly: true,
      sameSite: "Strict",
      secure: new URL(c.req.url).protocol === "https:",
      maxAge: sessionSeconds,
    });
    return session;
  }

  end(c: Context): void {
    deleteCookie(c, sessionCookie, { path: "/console" });
  }

  /** The token every state-changing request of this session must carry. */
  csrfToken(session: Session): string {
    return this.mac("csrf", session.id);
  }

  csrfValid(session: Session, presented: string | undefined): boolean {
    return presented !== undefined && equal(presented, this.csrfToken(session));
  }
}

function equal(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
