// The per-address AUTH failure budget with the relay's clock injected (in process): a
// successful AUTH does not give failures back, the budget holds across connections for
// the whole window, and the address may log in again once the clock passes it.
import { afterAll, describe, expect, it } from "vitest";
import { startInProcess, type InProcessRelay } from "../helpers/relay-in-process.js";
import { RawSmtp } from "../helpers/raw-smtp.js";

let relay: InProcessRelay | undefined;
afterAll(async () => relay?.stop());

async function login(port: number, pass: string, client?: RawSmtp): Promise<{ client: RawSmtp; code: number }> {
  if (!client) {
    client = (await RawSmtp.connect(port)).client;
    expect((await client.command("EHLO test")).code).toBe(250);
  }
  return { client, code: (await client.authPlain("app", pass)).code };
}

describe("SMTP AUTH failure budget per address", () => {
  it("counts failures around a success and refuses the address until the injected clock passes the window", async () => {
    let now = Date.parse("2026-11-23T12:00:00.000Z");
    relay = await startInProcess(
      [
        "smtpIntake:",
        "  enabled: true",
        '  listen: "127.0.0.1:0"',
        '  users: [{ user: app, pass: "app-secret-pass" }]',
        "  authFailures: { perConnection: 3, perAddress: 4, windowSeconds: 900 }",
      ].join("\n"),
      { clock: { now: () => now } },
    );
    const port = relay.smtp!.port;
    const first = await login(port, "wrong-1");
    expect(first.code).toBe(535);
    expect((await login(port, "wrong-2", first.client)).code).toBe(535);
    expect((await login(port, "app-secret-pass", first.client)).code).toBe(235);
    first.client.destroy();
    now += 600_000;
    const second = await login(port, "wrong-3");
    expect(second.code).toBe(535);
    expect((await login(port, "wrong-4", second.client)).code).toBe(421);
    await second.client.closed;
    now += 299_000;
    const locked = await login(port, "app-secret-pass");
    expect(locked.code).toBe(421);
    await locked.client.closed;
    now += 1_000;
    const again = await login(port, "app-secret-pass");
    expect(again.code).toBe(235);
    again.client.destroy();
  });
});
