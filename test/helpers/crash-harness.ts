// The kill -9 harness: runs the relay as a child process, keeps concurrent senders
// going, SIGKILLs it at random moments, restarts, and collects every id that was
// acknowledged with a 200. Later suites reuse it with other upstreams and loads.
import { post } from "./http.js";
import { startRelay, type RelayProcess, type StartOptions } from "./server-process.js";

export interface CrashLoopOptions extends StartOptions {
  kills: number;
  senders: number;
  /** The body of each send (called per request). */
  makeBody: (n: number) => { body: BodyInit; headers: Record<string, string> };
  /** Kill after a random delay in [minMs, maxMs). */
  minMs?: number;
  maxMs?: number;
  random?: () => number;
}

export interface CrashLoopResult {
  acknowledged: string[];
  attempted: number;
  kills: number;
}

export async function crashLoop(options: CrashLoopOptions): Promise<CrashLoopResult> {
  const random = options.random ?? Math.random;
  const acknowledged: string[] = [];
  let attempted = 0;
  for (let round = 0; round < options.kills; round += 1) {
    const relay: RelayProcess = await startRelay(options);
    let running = true;
    const sender = async () => {
      while (running) {
        attempted += 1;
        try {
          const answer = await post(relay.url, ...bodyArgs(options.makeBody(attempted)));
          if (answer.status === 200) acknowledged.push(answer.body.data.id as string);
        } catch {
          // the connection died with the process: not acknowledged
        }
      }
    };
    const senders = Array.from({ length: options.senders }, sender);
    const minMs = options.minMs ?? 50;
    const maxMs = options.maxMs ?? 400;
    await new Promise((resolve) => setTimeout(resolve, minMs + random() * (maxMs - minMs)));
    await relay.kill();
    running = false;
    await Promise.all(senders);
  }
  return { acknowledged, attempted, kills: options.kills };
}

function bodyArgs(request: { body: BodyInit; headers: Record<string, string> }): [BodyInit, Record<string, string>] {
  return [request.body, request.headers];
}
