// Words and colours for the review: kinds of data, retention, sizes and intervals, shared by the
// device page and the home review.

import type { Category } from "./generated/Category";
import type { Retention } from "./generated/Retention";

/** The ranges a review can look back over, as the API takes them. */
export const RANGES = [
  { since: "1h", label: "Last hour" },
  { since: "24h", label: "Last day" },
  { since: "7d", label: "Last week" },
  { since: "30d", label: "Last month" },
] as const;
export type ReviewRange = (typeof RANGES)[number]["since"];

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
