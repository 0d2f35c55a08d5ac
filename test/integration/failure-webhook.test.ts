// failed.notify.webhook gets one POST per mail that ends failed, without holding up delivery.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, expect, it } from "vitest";
import { post } from "../helpers/http.js";
import { deliveryYaml, startInProcess } from "../helpers/relay-in-process.js";
import { startSmtpSink } from "../helpers/smtp-sink.js";
import { waitFor } from "../helpers/tmp-dir.js";

it("POSTs {id, state, recipients} once when a mail ends failed", async () => {
  const received: any[] = [];
  let calls = 0;
  const hook = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      calls += 1;
      if (calls === 1) return void res.writeHead(500).end();
      received.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
  const sink = await startSmtpSink({ onRcpt: () => ({ code: 550, message: "no such user" }) });
  const relay = await startInProcess(
    [
      "failed:",
      `  notify: { webhook: "http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook" }`,
      deliveryYaml(sink.port, [], "primary"),
    ].join("\n"),
    { clock: {} },
  );
  afterAll(async () => {
    await relay.stop();
    await sink.close();
    hook.close();
  });
  const answer = await post(
    relay.url,
    new URLSearchParams({ title: "t", content: "c", receiver: "gone@example.com" }).toString(),
    { "content-type": "application/x-www-form-urlencoded" },
  );
  const id = answer.body.data.id;
  await relay.waitForState(id, ["failed"]);
  await waitFor(() => received.length === 1, 5_000, "the webhook retry");
  expect(received[0]).toMatchObject({
    id,
    state: "failed",
    recipients: [{ address: "gone@example.com", state: "failed-permanent" }],
  });
  expect(received[0].recipients[0].lastError).toContain("550");
  expect(calls).toBe(2);
}, 15_000);
