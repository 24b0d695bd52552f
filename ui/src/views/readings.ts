// What a device measures now (its power, a room's temperature), as the summary of its page says
// it: "Power 42 W". The hub sends only values the household may see (none for a device that is
// not approved, none on a redacted field); the page shows the few that tell most.

import { html, type TemplateResult } from "lit-html";
import type { ReadingView } from "../generated/ReadingView";

/** The most readings a summary names: a glance, not a table. */
const SHOWN = 3;

/** The readings a summary leads with, for the device itself (`child` undefined) or one of a
 *  bridge's devices: the kinds people know (power, temperature, humidity, battery), or, when it
 *  has none of those, its first few others. */
export function summaryReadings(readings: ReadingView[], child?: string): ReadingView[] {
  const own = readings.filter((r) => (r.child ?? undefined) === child);
  const headline = own.filter((r) => r.headline);
  return (headline.length ? headline : own).slice(0, SHOWN);
}

/** "42 W", "21.5 °C", "97 %", or the bare number when it names no unit. */
export function readingValue(r: ReadingView): string {
  return r.unit ? `${r.value} ${r.unit}` : r.value;
}

export function readingItem(r: ReadingView): TemplateResult {
  return html`<span class="reading" data-testid="reading" data-name=${r.name}>${r.name} <strong>${readingValue(r)}</strong></span>`;
}
