// The set-up of the pickup tests on the binary: an SMTP sink answering chosen recipients
// with chosen codes (the map may change during the test), and a data directory whose
// app.yaml delivers to it with a slow retry, so a deferred mail stays deferred.
import { deliveryYaml } from "./relay-in-process.js";
import { writeConfig } from "./server-process.js";
import { startSmtpSink, type SmtpSink } from "./smtp-sink.js";
import { tmpDir } from "./tmp-dir.js";

export async function sinkWithConfig(codes: Record<string, number>): Promise<{ sink: SmtpSink; dir: string }> {
  const sink = await startSmtpSink({
    onRcpt: (address) => (codes[address] ? { code: codes[address]!, message: "not now" } : undefined),
  });
  const dir = tmpDir();
  writeConfig(
    dir,
    deliveryYaml(sink.port, ["  from: relay@example.org", "  retry: { attempts: 5, baseSeconds: 60, maxSeconds: 60 }"]),
  );
  return { sink, dir };
}
