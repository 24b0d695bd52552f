// The notification history: everything a banner showed (a device sending something new, a
// question about two records, a name looked up for the first time, an error), newest first. Only
// one banner is on screen at a time, so this is where the rest can be read again; it is kept in
// this browser's storage so that a reload loses nothing. Each member signed in on this browser
// has their own: what one may see of the home is not shown to the next.

import type { ApiError } from "./generated/ApiError";
import type { News } from "./state";

/** What a banner showed: news, or an error from something the person did. */
export type Shown = News | { id: number; kind: "error"; error: ApiError };

export interface NotificationEntry {
  /** When it was shown (ms since the epoch). */
  at: number;
  item: Shown;
}

/** Enough to look back over a busy week of changes; a bound so that the browser's storage (a
 *  few MB per site, shared with nothing else of Hearth's) never fills up. */
export const HISTORY_LIMIT = 200;

const KINDS = new Set<Shown["kind"]>(["change", "question", "destination", "error"]);
const PREFIX = "hearth.notifications.";

interface Saved {
  entries: NotificationEntry[];
  /** When the person last opened the history: newer entries are unread. */
  seenAt: number;
}

/** Reads what was saved, keeping only well-formed entries (storage may hold an older version's
 *  shape, or something edited by hand). */
export function parseSaved(raw: string | null): Saved {
  const empty: Saved = { entries: [], seenAt: 0 };
  if (!raw) return empty;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return empty;
  }
  if (typeof value !== "object" || value === null) return empty;
  const v = value as { entries?: unknown; seenAt?: unknown };
  const entries = Array.isArray(v.entries)
    ? v.entries.filter(
        (e): e is NotificationEntry =>
          typeof e === "object" &&
          e !== null &&
          typeof (e as NotificationEntry).at === "number" &&
          typeof (e as NotificationEntry).item === "object" &&
          (e as NotificationEntry).item !== null &&
          KINDS.has((e as NotificationEntry).item.kind),
      )
    : [];
  return { entries: entries.slice(0, HISTORY_LIMIT), seenAt: typeof v.seenAt === "number" ? v.seenAt : 0 };
}

export class NotificationHistory {
  private key: string | undefined;
  private saved: Saved = { entries: [], seenAt: 0 };

  constructor(private readonly storage: Storage | undefined) {}

  /** Newest first. */
  get entries(): readonly NotificationEntry[] {
    return this.saved.entries;
  }

  get seenAt(): number {
    return this.saved.seenAt;
  }

  get unread(): number {
    return this.saved.entries.filter((e) => e.at > this.saved.seenAt).length;
  }

  /** Switches to `member`'s history; what arrived before the page knew who is asking joins it. */
  open(member: string): void {
    const key = PREFIX + member;
    if (key === this.key) return;
    const arrived = this.key === undefined ? this.saved.entries : [];
    this.key = key;
    const saved = parseSaved(this.read(key));
    const entries = [...arrived, ...saved.entries].sort((x, y) => y.at - x.at).slice(0, HISTORY_LIMIT);
    this.saved = { entries, seenAt: saved.seenAt };
    if (arrived.length) this.write();
  }

  add(item: Shown, at = Date.now()): void {
    this.saved.entries = [{ at, item }, ...this.saved.entries].slice(0, HISTORY_LIMIT);
    this.write();
  }

  /** The person looked: everything so far is read. */
  markSeen(at = Date.now()): void {
    this.saved.seenAt = Math.max(at, this.saved.entries[0]?.at ?? 0);
    this.write();
  }

  clear(): void {
    this.saved = { entries: [], seenAt: this.saved.seenAt };
    this.write();
  }

  private read(key: string): string | null {
    try {
      return this.storage?.getItem(key) ?? null;
    } catch {
      return null; // storage refused (private mode, a sandbox): the history lasts this page only
    }
  }

  private write(): void {
    if (this.key === undefined) return;
    try {
      this.storage?.setItem(this.key, JSON.stringify(this.saved));
    } catch {
      /* full or refused: the history still lasts this page */
    }
  }
}

/** The page's local storage, if it may use it (a sandboxed frame throws on reading it). */
export function pageStorage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}
