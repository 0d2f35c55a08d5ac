// data/cluster.json through lowdb: this host's id in the cluster (made once, kept) and how
// far its own records are confirmed by the broker's journal.
import { Low } from "lowdb";
import { JSONFile } from "lowdb/node";
import { newUlid } from "../ids.js";

interface ClusterFile {
  host: string;
  published: number;
}

export class ClusterState {
  private constructor(private readonly db: Low<ClusterFile>) {}

  static async open(file: string): Promise<ClusterState> {
    const db = new Low<ClusterFile>(new JSONFile(file), { host: "", published: 0 });
    await db.read();
    if (typeof db.data.host !== "string" || !/^[0-9A-Z]{26}$/.test(db.data.host)) {
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

  async savePublished(pos: number): Promise<void> {
    if (pos <= this.db.data.published) return;
    this.db.data.published = pos;
    await this.db.write();
  }
}
