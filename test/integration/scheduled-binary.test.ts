// Scheduled send through the built binary and a real SMTP sink, across a kill -9: a mail
// whose time passed while the relay was down is sent as soon as it is back (never before
// its time), and one still ahead is sent within a second of its time, once.
import { afterAll, expect, it } from "vitest";
import { get, post } from "../helpers/http.js";
import { deliveryYaml } from "../helpers/relay-in-process.js";
import { startRelay, writeConfig, type RelayProcess } from "../helpers/server-process.js";
import { startSmtpSink } from "../helpers/smtp-sink.js";
import { tmpDir, waitFor } from "../helpers/tmp-dir.js";

const running: RelayProcess[] = [];
afterAll(async () => {
  for (const relay of running) await relay.kill();
});

async function schedule(url: string, title: string, at: number): Promise<{ id: string; due: number }> {
  // whole seconds, written with an offset east of UTC
  const due = Math.ceil(at / 1000) * 1000;
  const local = new Date(due + 2 * 3_600_000).toISOString().slice(0, 19);
  const answer = await post(
    url,
    JSON.stringify({ title, content: "<p>x</p>", receiver: "a@example.com", send_at: `${local}+02:00` }),
    { "content-type": "application/json" },
  );
  expect(answer.status).toBe(200);
  return { id: answer.body.data.id, due };
}

it("sends a scheduled mail neither early nor twice nor never across a kill -9", async () => {
  const sink = await startSmtpSink();
  const dir = tmpDir();
  writeConfig(dir, deliveryYaml(sink.port, ["  from: relay@example.org"], "primary"));
  try {
    const first = await startRelay({ cwd: dir });
    running.push(first);
    const overdue = await schedule(first.url, "overdue", Date.now() + 2_000);
    // far enough ahead for a restarted binary, under load, to be up before it is due
    const ahead = await schedule(first.url, "ahead", Date.now() + 10_000);
    expect((await get(first.url, `/api/email/${ahead.id}`)).body.data.state).toBe("scheduled");
    await first.kill();
    // the first mail's time passes while the relay is down
    await waitFor(() => Date.now() > overdue.due + 300, 10_000, "the first mail's time to pass");
    const second = await startRelay({ cwd: dir });
    running.push(second);
    const arrived = await sink.waitForMessages(2, 15_000);
    const at = (title: string) => arrived.find((m) => m.raw.toString().includes(`Subject: ${title}`))!.at;
    expect(at("overdue")).toBeGreaterThanOrEqual(overdue.due);
    expect(at("ahead")).toBeGreaterThanOrEqual(ahead.due);
    expect(at("ahead") - ahead.due).toBeLessThan(1_000);
    // the sink has the message a moment before the relay has recorded the outcome
    for (const { id } of [overdue, ahead])
      await waitFor(
        async () => (await get(second.url, `/api/email/${id}`)).body.data.state === "sent",
        5_000,
        `${id} recorded as sent`,
      );
    expect(sink.messages.length).toBe(2);
    console.log(
      `scheduled: overdue sent ${at("overdue") - overdue.due} ms after its time (relay down then), ahead sent ${at("ahead") - ahead.due} ms after its time`,
    );
    expect(await second.stop()).toBe(0);
  } finally {
    await sink.close();
  }
}, 60_000);
