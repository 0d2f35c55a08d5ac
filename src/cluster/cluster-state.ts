// data/cluster.json through lowdb, written durably: this host's id in the cluster (made once,
// kept), how far its own records are confirmed by the broker's journal, and the mails whose
// records stay out of the journal. A host whose
// spool holds records copied from others was in the cluster under an id: without that file
// (lost, or not JSON) it refuses to start rather than join again as a stranger, which would
// publish its whole history a second time and its queued mails' work twice.
import { Low } from "lowdb";
import { newUlid } from "../ids.js";
import { DurableJSONFile } from "../spool/durable-json-file.js";

interface ClusterFile {
  host: string;
  published: number;
  /** Mails whose records stay out of the journal (the broker could not take their accepted record), newest last. */
  leftOut?: string[];
}

/** Left-out mails remembered at most (each of them is rare: intake refuses what the broker cannot take). */
const maxLeftOut = 10_000;

export class ClusterState {
  private constructor(private readonly db: Low<ClusterFile>) {}

  /** `joinedBefore`: the spool holds records copied from other hosts. */
  static async open(file: string, joinedBefore: boolean): Promise<ClusterState> {
    const db = new Low<ClusterFile>(new DurableJSONFile(file), { host: "", published: 0 });
    const lost = (why: string) =>
      new Error(
        `${file} ${why}, but this spool holds records copied from other hosts: this host was in the cluster ` +
          `under the id kept there. Restore the file from a backup (a new id would publish every mail of ` +
          `this spool to the others again and send its queued mails twice).`,
      );
    try {
      await db.read();
    } catch (error) {
      const why = `is unreadable (${(error as Error).message})`;
      if (joinedBefore) throw lost(why);
      throw new Error(
        `${file} ${why}. Restore it from a backup; or, if this host never published to the cluster, remove it ` +
          `to join under a new id (every mail of this spool then goes to the other hosts).`,
      );
    }
    if (typeof db.data?.host !== "string" || !/^[0-9A-Z]{26}$/.test(db.data.host)) {
      if (joinedBefore) throw lost("is missing or holds no host id");
      db.data = { host: newUlid(), published: 0 };
      await db.write();
    }
    if (!Number.isSafeInteger(db.data.published)) db.data.published = 0;
    return new ClusterState(db);
  }

  get host(): string {
    return this.db.data.host;
  }

  get published(): number {
    return this.db.data.published;
  }

  get leftOut(): string[] {
    return Array.isArray(this.db.data.leftOut) ? this.db.data.leftOut.filter((id) => typeof id === "string") : [];
  }

  async addLeftOut(id: string): Promise<void> {
    this.db.data.leftOut = [...this.leftOut, id].slice(-maxLeftOut);
    await this.db.write();
  }

  async savePublished(pos: number): Promise<void> {
    if (pos <= this.db.data.published) return;
    this.db.data.published = pos;
    await this.db.write();
  }
}
