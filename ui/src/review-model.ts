// Words and colours for the review: kinds of data, retention, sizes and intervals, shared by the
// device page and the home review.

import type { Category } from "./generated/Category";
import type { DeviceReview } from "./generated/DeviceReview";
import type { Retention } from "./generated/Retention";

/** The ranges a review can look back over, as the API takes them. */
export const RANGES = [
  { since: "1h", label: "Last hour" },
  { since: "24h", label: "Last day" },
  { since: "7d", label: "Last week" },
  { since: "30d", label: "Last month" },
] as const;
export type ReviewRange = (typeof RANGES)[number]["since"];

const HOUR = 3_600_000;
const RANGE_MS: Record<ReviewRange, number> = { "1h": HOUR, "24h": 24 * HOUR, "7d": 7 * 24 * HOUR, "30d": 30 * 24 * HOUR };

/** The shortest range that goes back `span` ms, so that a device heard from for two hours is
 *  shown over a day rather than as a sliver of a week (the longest range if none does). */
export function rangeCovering(span: number): ReviewRange {
  return RANGES.find((r) => RANGE_MS[r.since] >= span)?.since ?? "30d";
}

/** When the device first sent what the review lists (its topics' first message), if anything. */
export function firstMessage(r: DeviceReview): number | undefined {
  return r.topics.length ? Math.min(...r.topics.map((t) => t.first_seen)) : undefined;
}

export const CATEGORY_LABELS: Record<Category, string> = {
  presence: "Presence",
  location: "Location",
  audio_video: "Audio / video",
  energy: "Energy",
  climate: "Climate",
  access: "Doors and locks",
  health: "Health",
  identifiers: "Identifiers",
  diagnostics: "Diagnostics",
  other: "Other",
};

/** What each kind says about a home, in a sentence. */
export const CATEGORY_MEANING: Record<Category, string> = {
  presence: "who is home, and where in it",
  location: "where someone is, outside the home too",
  audio_video: "pictures or sound",
  energy: "power use, which shows when the home is occupied",
  climate: "temperature, humidity, air",
  access: "doors, windows and locks opening",
  health: "bodies: weight, heartbeat, sleep",
  identifiers: "network names and addresses that single out the home",
  diagnostics: "the device's own state",
  other: "not recognised",
};


/** The retention choices a person is offered, as the API takes them. */
export const RETENTION_CHOICES: { value: string; label: string; retention: Retention }[] = [
  { value: "none", label: "Nothing but that it sent", retention: { keep: "none" } },
  { value: "metadata", label: "Fields, never values", retention: { keep: "metadata" } },
  { value: "7d", label: "Values for 7 days", retention: { keep: "days", days: 7 } },
  { value: "30d", label: "Values for 30 days", retention: { keep: "days", days: 30 } },
  { value: "365d", label: "Values for a year", retention: { keep: "days", days: 365 } },
];

export function retentionValue(r: Retention): string {
  return r.keep === "days" ? `${r.days}d` : r.keep;
}

export function retentionLabel(r: Retention): string {
  return RETENTION_CHOICES.find((c) => c.value === retentionValue(r))?.label ?? (r.keep === "days" ? `Values for ${r.days} days` : r.keep);
}

/** How much a retention keeps, to compare two: nothing, then fields, then values for more days. */
function keeps(r: Retention): number {
  return r.keep === "none" ? 0 : r.keep === "metadata" ? 1 : 1 + r.days;
}

/** Whether `next` keeps less than `current`: Hearth then deletes what is past it at once. */
export function keepsLess(next: Retention, current: Retention): boolean {
  return keeps(next) < keeps(current);
}

export function size(bytes: number): string {
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

export function interval(ms: number): string {
  if (ms >= 7_200_000) return `${Math.round(ms / 3_600_000)} h`;
  if (ms >= 120_000) return `${Math.round(ms / 60_000)} min`;
  if (ms >= 1_000) return `${Math.round(ms / 1_000)} s`;
  return `${ms} ms`;
}
