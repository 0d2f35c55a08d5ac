// data/state.json through lowdb: the pause flag, the one piece of mutable state that is
// not a spool record. An unreadable file means "not paused", with a warning; the next
// write replaces it.
import { Low } from "lowdb";
import type { Logger } from "../log.js";
import { DurableJSONFile } from "./durable-json-file.js";

export interface RelayState {
  paused: boolean;
}

export class StateFile {
  private constructor(private readonly db: Low<RelayState>) {}

  static async open(file: string, log: Logger): Promise<StateFile> {
    const db = new Low<RelayState>(new DurableJSONFile(file), { paused: false });
    try {
      await db.read();
      if (typeof db.data?.paused !== "boolean") db.data = { paused: false };
    } catch (error) {
      log.warn({ err: error, file }, "state.json is unreadable; starting unpaused");
      db.data = { paused: false };
    }
    return new StateFile(db);
  }

  get paused(): boolean {
    return this.db.data.paused;
  }

  async setPaused(paused: boolean): Promise<void> {
    this.db.data.paused = paused;
    await this.db.write();
  }
}
