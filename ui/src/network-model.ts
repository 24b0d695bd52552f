// Network permissions in a homeowner's words: the three levels, how far a level is really
// enforced, what happened to a name, and which rule decided it. Also the home chart's figures.
// Pure functions, no rendering.

import type { DomainTraffic } from "./generated/DomainTraffic";
import type { Enforcement } from "./generated/Enforcement";
import type { InternetLevel } from "./generated/InternetLevel";
import type { QueryAction } from "./generated/QueryAction";
import type { RuleSource } from "./generated/RuleSource";
import type { RuleVerdict } from "./generated/RuleVerdict";

/** In the order a person reads them: the strictest first. */
export const LEVELS: readonly { level: InternetLevel; label: string; meaning: string }[] = [
  { level: "home_only", label: "Home only", meaning: "only the home and the time servers" },
  { level: "allowed_list", label: "Allowed list", meaning: "only the places allowed below" },
  { level: "unrestricted", label: "Unrestricted", meaning: "anywhere but what you deny" },
];

export function levelLabel(level: InternetLevel): string {
  return LEVELS.find((l) => l.level === level)?.label ?? level;
}

/** How far the level holds: `none` when it changes nothing (yet). */
export type EnforcementGrade = "full" | "partial" | "none";

export function enforcement(e: Enforcement, dnsGate: boolean): { text: string; grade: EnforcementGrade } {
  if (!dnsGate) {
    return { text: "Hearth's DNS gate is off: nothing here is enforced (start it with hearth serve --dns-listen)", grade: "none" };
  }
  switch (e) {
    case "firewall":
      return { text: "Enforced by Hearth's firewall", grade: "full" };
    case "dns_only":
      return { text: "Enforced through Hearth's DNS only: a device with its own resolver can go around it", grade: "partial" };
    case "not_in_path":
      return {
        text: "Not in Hearth's path: it has not used Hearth's DNS in a day, so this setting changes nothing yet",
        grade: "none",
      };
  }
}

export const ACTION_LABELS: Record<QueryAction, string> = {
  forward: "allowed",
  refuse: "refused",
  no_such_name: "told no such name",
};

const PLAIN_BECAUSE: Record<string, string> = {
  not_on_list: "not on its list",
  home_only: "home only",
  learning: "learning",
  blocked: "device blocked",
  canary: "keeps it on Hearth's DNS",
  home_name: "a name in the home",
  unrestricted: "unrestricted",
};

/** A rule in words: "your rule for x", "maker's file (MUD) allows x", "you allowed x". */
export function ruleWords(source: RuleSource, verdict: RuleVerdict, domain: string): string {
  const allow = verdict === "allow";
  switch (source) {
    case "person":
      return allow ? `your rule for ${domain}` : `your rule against ${domain}`;
    case "mud":
      return `maker's file (MUD) ${allow ? "allows" : "denies"} ${domain}`;
    case "learned":
      return allow ? `you allowed ${domain}` : `you denied ${domain}`;
    case "default":
      return "time server";
  }
}

/** Every source, keyed by the generated type so that a new one fails the type check. */
const SOURCES: Record<RuleSource, true> = { person: true, mud: true, learned: true, default: true };

function isSource(v: string): v is RuleSource {
  return Object.hasOwn(SOURCES, v);
}

/** The hub's code for what decided a query (`rule:person:allow:x`, `default:x`, `not_on_list`)
 *  in words; a code this page does not know is shown as it is. */
export function becauseWords(code: string): string {
  const rule = /^rule:([a-z_]+):(allow|deny):(.+)$/.exec(code);
  if (rule?.[1] && isSource(rule[1])) return ruleWords(rule[1], rule[2] === "deny" ? "deny" : "allow", rule[3] ?? "");
  if (code.startsWith("default:")) return "time server";
  return PLAIN_BECAUSE[code] ?? code;
}

/** Where a rule came from, said after it. */
export const SOURCE_LABELS: Record<RuleSource, string> = {
  person: "your rule",
  mud: "from the maker's file (MUD)",
  learned: "you allowed it when it asked",
  default: "Hearth's default",
};

/** The host part of `addr:port` or `[v6]:port`; null for an unspecified address (0.0.0.0, ::),
 *  which says nothing about where devices can reach Hearth. */
export function dnsHost(listen: string): { host: string | null; port: string } {
  const m = /^\[(.+)\]:(\d+)$/.exec(listen) ?? /^([^:]+):(\d+)$/.exec(listen);
  const host = m?.[1] ?? listen;
  const port = m?.[2] ?? "53";
  return { host: host === "0.0.0.0" || host === "::" ? null : host, port };
}

// ---- the home chart ----

/** Devices drawn at most, busiest first (the table lists every one). */
export const CHART_DEVICES = 12;
/** Domains with a colour of their own; the rest are "other". */
export const CHART_DOMAINS = 5;

export interface ChartPart {
  /** A domain, or null for "other". */
  domain: string | null;
  queries: number;
  refused: number;
}

export interface ChartBar {
  deviceId: string;
  name: string;
  queries: number;
  refused: number;
  parts: ChartPart[];
}

export interface Chart {
  /** The domains with a colour, in legend order (colour i is `domains[i]`). */
  domains: string[];
  hasOther: boolean;
  bars: ChartBar[];
  /** The busiest bar's queries: the scale. */
  max: number;
}

/** Bars per device (the busiest CHART_DEVICES), each split into the home's busiest domains and
 *  "other", in the same order on every bar. */
export function chartOf(traffic: readonly DomainTraffic[]): Chart {
  const byDevice = new Map<string, { name: string; rows: DomainTraffic[]; queries: number }>();
  for (const t of traffic) {
    const d = byDevice.get(t.device_id) ?? { name: t.device_name || t.device_id, rows: [], queries: 0 };
    d.rows.push(t);
    d.queries += t.queries;
    byDevice.set(t.device_id, d);
  }
  const shown = [...byDevice.entries()].sort((a, b) => b[1].queries - a[1].queries || a[1].name.localeCompare(b[1].name)).slice(0, CHART_DEVICES);
  const perDomain = new Map<string, number>();
  for (const [, d] of shown) for (const t of d.rows) perDomain.set(t.domain, (perDomain.get(t.domain) ?? 0) + t.queries);
  const domains = [...perDomain.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, CHART_DOMAINS)
    .map(([domain]) => domain);
  let hasOther = false;
  const bars = shown.map(([deviceId, d]) => {
    const parts: ChartPart[] = domains.map((domain) => ({ domain, queries: 0, refused: 0 }));
    const other: ChartPart = { domain: null, queries: 0, refused: 0 };
    for (const t of d.rows) {
      const part = parts[domains.indexOf(t.domain)] ?? other;
      part.queries += t.queries;
      part.refused += t.refused;
    }
    if (other.queries > 0) hasOther = true;
    const kept = [...parts, other].filter((p) => p.queries > 0);
    return { deviceId, name: d.name, queries: d.queries, refused: kept.reduce((n, p) => n + p.refused, 0), parts: kept };
  });
  return { domains, hasOther, bars, max: Math.max(1, ...bars.map((b) => b.queries)) };
}
