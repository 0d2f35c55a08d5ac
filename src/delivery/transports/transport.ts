// The transport contract (after nodemailer's): send one message to one envelope and
// report, per SMTP transaction, the reply and each recipient's resulting state.
import type { MailId, RecipientState, Transaction } from "../../types.js";

export interface OutgoingMessage {
  id: MailId;
  envelope: { from: string; to: string[] };
  raw: Buffer;
}

export interface TransactionResult {
  transaction: Transaction;
  recipients: { address: string; state: RecipientState }[];
}

export interface Transport {
  readonly name: string;
  /** One result per transaction; throws only for failures no transaction describes. */
  send(message: OutgoingMessage): Promise<TransactionResult[]>;
  verify(): Promise<void>;
  close(): Promise<void>;
}
