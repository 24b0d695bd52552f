// Pure helpers over the API types: labels, icons, search, filters, ordering, times.
// No DOM and no transport here, so every screen words and orders things the same way.

import type { Actor } from "./generated/Actor";
import type { ChildDevice } from "./generated/ChildDevice";
import type { Device } from "./generated/Device";
import type { DeviceState } from "./generated/DeviceState";
import type { DropReason } from "./generated/DropReason";
import type { Kind } from "./generated/Kind";

/** Label per kind. Keyed by the generated `Kind`, so a new kind fails the type check. */
const KINDS: Record<Kind, string> = {
  light: "Light",
  plug: "Plug",
  switch: "Switch",
  sensor: "Sensor",
  thermostat: "Thermostat",
  lock: "Lock",
  camera: "Camera",
  doorbell: "Doorbell",
  speaker: "Speaker",
  tv: "TV",
  media_player: "Media player",
  printer: "Printer",
  bridge: "Bridge",
  hub: "Hub",
  vacuum: "Vacuum",
  computer: "Computer",
  router: "Router",
  fan: "Fan",
  garage_door: "Garage door",
  door: "Door",
  window: "Window",
  window_covering: "Blinds",
  security_system: "Security system",
  air_purifier: "Air purifier",
  heater: "Heater",
  air_conditioner: "Air conditioner",
  humidifier: "Humidifier",
  dehumidifier: "Dehumidifier",
  sprinkler: "Sprinkler",
  remote: "Remote",
  other: "Other device",
  unknown: "Unknown kind",
};

export function kindLabel(kind: Kind): string {
  return KINDS[kind] ?? kind;
}

export const STATES: readonly DeviceState[] = ["new", "approved", "blocked"];

export const STATE_LABELS: Record<DeviceState, string> = {
  new: "New",
  approved: "Approved",
  blocked: "Blocked",
};

/** What each state means for the device, in the person's terms. */
export const STATE_MEANING: Record<DeviceState, string> = {
  new: "Quarantined: Hearth records what it sends but delivers none of it until you decide.",
  approved: "Approved: it may talk to the devices and services its manifest allows.",
  blocked: "Blocked: Hearth refuses its traffic. Approve it to let it back in.",
};

export const ACTOR_LABELS: Record<Actor, string> = {
  owner: "the owner",
  hearth: "Hearth",
};

/** `origin` of a history entry, as the CLI words it ("via web"), with a longer description. */
export function originLabel(origin: string): string {
  switch (origin) {
    case "web":
      return "the web UI";
    case "cli":
      return "the command line";
    case "desktop":
      return "the desktop app";
    case "discovery":
      return "discovery";
    default:
      return origin;
  }
}

/** "Vendor Model", without repeating words the model already starts with: "Philips Hue" and
 *  "Hue Bridge" make "Philips Hue Bridge", not "Philips Hue Hue Bridge". */
export function vendorModel(d: { vendor: string | null; model: string | null }): string {
  const vendor = d.vendor?.trim() ?? "";
  const model = d.model?.trim() ?? "";
  if (!vendor || !model) return vendor || model;
  const v = vendor.split(/\s+/);
  const m = model.split(/\s+/);
  for (let k = Math.min(v.length, m.length); k > 0; k--) {
    const tail = v.slice(v.length - k).join(" ").toLowerCase();
    if (tail === m.slice(0, k).join(" ").toLowerCase()) return [...v.slice(0, v.length - k), ...m].join(" ");
  }
  return `${vendor} ${model}`;
}

export interface Filters {
  query: string;
  state: DeviceState | "";
  kind: Kind | "";
}

export const NO_FILTERS: Filters = { query: "", state: "", kind: "" };

export function filtersActive(f: Filters): boolean {
  return f.query.trim() !== "" || f.state !== "" || f.kind !== "";
}

/** Search: every word must appear in the name, vendor, model, kind or an address, of the device
 *  or of one of the devices it speaks for (a bridge's Zigbee sensor is found by its name). */
export function matches(d: Device, f: Filters): boolean {
  if (f.state && d.state !== f.state) return false;
  if (f.kind && d.kind !== f.kind && !d.children.some((c) => c.kind === f.kind)) return false;
  const words = queryWords(f);
  if (words.length === 0) return true;
  const haystack = [d.name, d.vendor ?? "", d.model ?? "", d.kind, kindLabel(d.kind), ...d.addresses].join("\n").toLowerCase();
  return words.every((w) => haystack.includes(w)) || d.children.some((c) => childMatches(c, f));
}

function queryWords(f: Filters): string[] {
  return f.query.toLowerCase().split(/\s+/).filter(Boolean);
}

/** The same search over a device behind a bridge. */
export function childMatches(c: ChildDevice, f: Filters): boolean {
  if (f.kind && c.kind !== f.kind) return false;
  const haystack = [c.name, c.vendor ?? "", c.model ?? "", c.kind, kindLabel(c.kind), ...c.reports].join("\n").toLowerCase();
  return queryWords(f).every((w) => haystack.includes(w));
}

/** The children a list row shows: all of them, unless a search or kind filter picks some. */
export function shownChildren(d: Device, f: Filters): ChildDevice[] {
  if (queryWords(f).length === 0 && !f.kind) return d.children;
  const parentMatches = matches({ ...d, children: [] }, f);
  return parentMatches && !f.kind ? d.children : d.children.filter((c) => childMatches(c, f));
}

const STATE_ORDER: Record<DeviceState, number> = { new: 0, approved: 1, blocked: 2 };

const collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });

/** New devices first (they need a decision), then approved, then blocked; by name within. */
export function compareDevices(a: Device, b: Device): number {
  return STATE_ORDER[a.state] - STATE_ORDER[b.state] || collator.compare(a.name, b.name) || a.id.localeCompare(b.id);
}

export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "just now", "2 min ago", "3 h ago", "yesterday", "5 days ago", then a date. */
export function relativeTime(ms: number, now = Date.now()): string {
  const seconds = Math.round((now - ms) / 1000);
  if (seconds < 0) return seconds > -60 ? "just now" : "in the future";
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  if (days === 1) return "yesterday";
  if (days < 14) return `${days} days ago`;
  return new Date(ms).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export function absoluteTime(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Why the gate refused something, as a person reads it (the device page's activity and review). */
export const DROP_REASONS: Record<DropReason, string> = {
  quarantined: "the device is new (quarantined)",
  blocked: "the device is blocked",
  not_in_manifest: "no rule allows it",
  denied_by_manifest: "a rule denies it",
  system_topic: "$ topics are the broker's own",
  invalid_topic: "not a valid topic",
  bad_credentials: "wrong or unknown credential",
  client_id_taken: "client id bound to or held by another device",
  foreign_topic: "its discovery message names another device's topic",
  entity_taken: "another device already describes this entity",
  malformed_discovery: "an unreadable discovery message",
  discovery_will: "a Last Will on a discovery topic",
  unredactable: "unreadable, so its redacted fields could not be removed",
  too_many_attempts: "too many refused attempts from its address this minute",
  too_many_sessions: "it keeps too many sessions under other client ids",
  too_many_connections: "it already has as many connections open at once as a device may (connections_per_device in hearth.toml)",
};

/** 1234567 → "1 234 567": digits grouped by no-break spaces, the same in every locale. */
export function grouped(n: number): string {
  return Math.trunc(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, "\u00a0");
}

/** "once", "2 times", "1 234 times". */
export function times(n: number): string {
  return n === 1 ? "once" : `${grouped(n)} times`;
}

/** The time of day for today ("10:31"), with the date before that ("29 Nov, 10:31"). */
export function clockTime(ms: number, now = Date.now()): string {
  const at = new Date(ms);
  const time = at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  if (at.toDateString() === new Date(now).toDateString()) return time;
  return `${at.toLocaleDateString(undefined, { month: "short", day: "numeric" })}, ${time}`;
}

/** What each kind of identity key is, as a person reads it (one, several). Keyed by the part of
 *  the key before its first colon (`mac:aabbccddeeff`); see hearth-core's `identity.rs`. */
const KEY_KINDS: Record<string, [string, string]> = {
  mac: ["MAC address", "MAC addresses"],
  hap: ["HomeKit id", "HomeKit ids"],
  cast: ["Google Cast id", "Google Cast ids"],
  hue: ["Hue bridge id", "Hue bridge ids"],
  ha: ["Home Assistant id", "Home Assistant ids"],
  elg: ["Elgato id", "Elgato ids"],
  nanoleaf: ["Nanoleaf id", "Nanoleaf ids"],
  ewelink: ["eWeLink id", "eWeLink ids"],
  matter: ["Matter id", "Matter ids"],
  host: ["host name", "host names"],
  instance: ["service name", "service names"],
};

const NUMBER_WORDS = ["no", "one", "two", "three", "four", "five"];

/** One kind of id an announcement named, with its values as a person reads them. */
export interface NamedIds {
  /** "two different MAC addresses" */
  what: string;
  values: string[];
}

/** An identity key's value as written on a device's label: MACs with colons. */
function keyValue(kind: string, value: string): string {
  return kind === "mac" && /^[0-9a-f]{12}$/.test(value) ? (value.match(/../g) ?? [value]).join(":") : value;
}

/** `["mac:aa…", "mac:bb…"]` → "two different MAC addresses" and the two values, per kind. */
export function namedIds(keys: readonly string[]): NamedIds[] {
  const byKind = new Map<string, string[]>();
  for (const key of keys) {
    const at = key.indexOf(":");
    const kind = at > 0 ? key.slice(0, at) : key;
    const value = at > 0 ? key.slice(at + 1) : "";
    byKind.set(kind, [...(byKind.get(kind) ?? []), keyValue(kind, value)]);
  }
  return [...byKind].map(([kind, values]) => {
    const [one, many] = KEY_KINDS[kind] ?? [`${kind} id`, `${kind} ids`];
    const n = values.length;
    const what = n === 1 ? `one ${one}` : `${NUMBER_WORDS[n] ?? grouped(n)} different ${many}`;
    return { what, values };
  });
}

/** The page of a device behind a bridge. */
export function childHref(bridge: string, key: string): string {
  return `#/devices/${encodeURIComponent(bridge)}/children/${encodeURIComponent(key)}`;
}
