import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { webhookSecretBytes } from "../config-values.js";
import { webhookHeaders } from "./webhook-signature.js";

describe("webhookHeaders", () => {
  // the example of the Standard Webhooks specification and its reference libraries
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const body = '{"test": 2432232314}';

  it("signs as the spec's example does", () => {
    const headers = webhookHeaders(
      "msg_p5jXN8AQM9LWM0D4loKWxJek",
      1614265330,
      body,
      webhookSecretBytes(secret) as Buffer,
    );
    expect(headers).toEqual({
      "content-type": "application/json",
      "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
      "webhook-timestamp": "1614265330",
      "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    });
  });

  it("verifies with the reference library now, and not with another secret or body", () => {
    const headers = webhookHeaders("evt_1", Math.floor(Date.now() / 1000), body, webhookSecretBytes(secret) as Buffer);
    expect(new Webhook(secret).verify(body, headers)).toEqual({ test: 2432232314 });
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 9).toString("base64")}`).verify(body, headers)).toThrow();
    expect(() => new Webhook(secret).verify(body.replace("2", "3"), headers)).toThrow();
  });

  it("leaves out the signature without a key (failed.notify.webhook)", () => {
    expect(webhookHeaders("evt_1", 1, body, null)["webhook-signature"]).toBeUndefined();
  });
});
