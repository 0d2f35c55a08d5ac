// What `replay` and `cancel` would ask of the server, worked out read-only from the spool:
// which mails (by id, or by a filter like `postsuper -d ALL deferred`), which recipients, and
// the server's verdict on each request in advance — through the very rules its actions apply
// (delivery/action-rules.ts), so a request it would refuse is refused here, before anything
// is written. Pure over the index: the commands do the printing and writing.
import { canonicalOrSelf } from "../address.js";
import { cancelNeeded, failedRecipients, refusalText, replayRecipients } from "../delivery/action-rules.js";
import { MailspoolError } from "../errors.js";
import type { BatchOutcome } from "../pickup/batch-results.js";
import type { ActionRequest } from "../pickup/pickup-action.js";
import type { MailEntry } from "../spool/mail-index.js";
import type { MailReader } from "../spool/mail-reader.js";
import type { MailState, RecipientState } from "../types.js";

export type Verdict = Pick<BatchOutcome, "outcome"> & { recipients?: number; reason?: string };

/** A request with the mail it concerns and the recipients the server will send to. */
export interface Planned {
  request: ActionRequest;
  state: MailState;
  sendTo: string[];
}

export interface Plan {
  planned: Planned[];
  refused: { id: string; reason: string }[];
  /** Mails a filter found that have nothing to do (e.g. only permanently failed recipients). */
  skipped: { id: string; state: MailState; reason: string }[];
}

export interface Filter {
  states: readonly MailState[];
  since?: Date;
  /** A recipient of the mail, compared in canonical form. */
  to?: string;
}

/** Which recipients a replay takes: `unsent` is the server's default (every one not yet sent). */
export type RecipientChoice =
  | { kind: "unsent" }
  | { kind: "named"; recipients: string[] }
  | { kind: "failed"; includePermanent: boolean }
  | { kind: "now" };

/** The mail as the server sees it: archive/ is not in its index, so an archived mail is no mail there. */
function liveEntry(index: MailReader, id: string): MailEntry | undefined {
  const entry = index.get(id);
  if (entry?.location.archived)
    throw new MailspoolError(
      "not_found",
      `mail ${id} is archived (${entry.state}); only mails in the live spool can be replayed or cancelled`,
    );
  return entry;
}

type Decision =
  | { outcome: "replayed"; sendTo: string[] }
  | { outcome: "cancelled" | "already-cancelled" }
  | { outcome: "refused"; reason: string };

function decide(index: MailReader, request: ActionRequest): Decision {
  try {
    const entry = liveEntry(index, request.id);
    if (request.kind === "cancel")
      return { outcome: cancelNeeded(entry, request.id) ? "cancelled" : "already-cancelled" };
    return { outcome: "replayed", sendTo: replayRecipients(entry, request.id, request.recipients) };
  } catch (error) {
    if (!(error instanceof MailspoolError)) throw error;
    return { outcome: "refused", reason: refusalText(error) };
  }
}

/** The verdict the server's actions would give this request now (as its batch result says it). */
export function verdictOf(index: MailReader, request: ActionRequest): Verdict {
  const decision = decide(index, request);
  return decision.outcome === "replayed" ? { outcome: "replayed", recipients: decision.sendTo.length } : decision;
}

export function selectByFilter(index: MailReader, filter: Filter): MailEntry[] {
  const since = filter.since?.toISOString() ?? "";
  const to = filter.to === undefined ? undefined : canonicalOrSelf(filter.to);
  return index
    .inStates(filter.states)
    .filter(
      (e) =>
        !e.location.archived &&
        e.acceptedAt >= since &&
        (to === undefined || e.recipients.some((r) => canonicalOrSelf(r.address) === to)),
    );
}

const inStates = (entry: MailEntry, states: RecipientState[]) =>
  entry.recipients.filter((r) => states.includes(r.state)).map((r) => r.address);

/** The request a replay makes of a mail, or why the choice leaves it nothing to do. */
function replayRequest(entry: MailEntry, choice: RecipientChoice): ActionRequest | string {
  const { id } = entry;
  switch (choice.kind) {
    case "unsent":
      return { kind: "replay", id };
    case "named":
      return { kind: "replay", id, recipients: choice.recipients };
    case "failed": {
      const recipients = failedRecipients(entry, choice.includePermanent);
      if (Array.isArray(recipients)) return { kind: "replay", id, recipients };
      return recipients.reason === "only_permanent"
        ? `${recipients.message}; --include-permanent takes them too`
        : recipients.message;
    }
    case "now":
      return entry.state === "deferred"
        ? { kind: "replay", id, recipients: inStates(entry, ["pending", "deferred"]) }
        : `is ${entry.state}; --now retries deferred mail only`;
  }
}

/** A plan for these requests: each one checked as the server would, refusals kept apart. */
function planOf(
  index: MailReader,
  requests: ActionRequest[],
  refused: Plan["refused"],
  skipped: Plan["skipped"],
): Plan {
  const plan: Plan = { planned: [], refused, skipped };
  for (const request of requests) {
    const decision = decide(index, request);
    if (decision.outcome === "refused") plan.refused.push({ id: request.id, reason: decision.reason });
    else if (decision.outcome === "already-cancelled")
      plan.refused.push({ id: request.id, reason: `mail ${request.id} is already cancelled; nothing to do` });
    else
      plan.planned.push({
        request,
        state: index.get(request.id)!.state,
        sendTo: decision.outcome === "replayed" ? decision.sendTo : [],
      });
  }
  return plan;
}

/** Mails named by id (a choice that leaves one nothing to do refuses it) or found by a filter (skipped). */
export function planReplay(index: MailReader, mails: (string | MailEntry)[], choice: RecipientChoice): Plan {
  const requests: ActionRequest[] = [];
  const refused: Plan["refused"] = [];
  const skipped: Plan["skipped"] = [];
  for (const mail of mails) {
    const id = typeof mail === "string" ? mail : mail.id;
    const entry = index.get(id);
    // an unknown or archived mail: the server's rules refuse it, with their reason
    const request = !entry || entry.location.archived ? { kind: "replay" as const, id } : replayRequest(entry, choice);
    if (typeof request !== "string") requests.push(request);
    else if (typeof mail === "string") refused.push({ id, reason: `mail ${id} ${request}` });
    else skipped.push({ id, state: mail.state, reason: request });
  }
  return planOf(index, requests, refused, skipped);
}

export function planCancel(index: MailReader, mails: (string | MailEntry)[]): Plan {
  const requests = mails.map((m): ActionRequest => ({ kind: "cancel", id: typeof m === "string" ? m : m.id }));
  return planOf(index, requests, [], []);
}
