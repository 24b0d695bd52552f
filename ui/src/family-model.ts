// Pure helpers for the household: roles, rights and grants in a homeowner's words, what the
// person asking may do, and the controls' buttons. No DOM and no transport here.

import type { ControlAction } from "./generated/ControlAction";
import type { ControlView } from "./generated/ControlView";
import type { DeviceId } from "./generated/DeviceId";
import type { Grant } from "./generated/Grant";
import type { GrantView } from "./generated/GrantView";
import type { Me } from "./generated/Me";
import type { Right } from "./generated/Right";
import type { Role } from "./generated/Role";
import type { ScheduleWindow } from "./generated/ScheduleWindow";
import type { Weekday } from "./generated/Weekday";
import { relativeTime } from "./model";

export const ROLES: readonly Role[] = ["owner", "adult", "child", "guest"];

export const ROLE_LABELS: Record<Role, string> = {
  owner: "Owner",
  adult: "Adult",
  child: "Child",
  guest: "Guest",
};

/** "a child", "an adult": the role in a sentence. */
export const ROLE_IN_A_SENTENCE: Record<Role, string> = {
  owner: "an owner",
  adult: "an adult",
  child: "a child",
  guest: "a guest",
};

/** What each role may do before any grant, as the hub decides it (hearth-core's `authorize`):
 *  said of someone ("Kim sees …"), and to them ("you see …"). */
export const ROLE_MEANING: Record<Role, string> = {
  owner: "may do everything, and decides who else may do what",
  adult: "sees and uses every device; reviewing what devices send and changing settings take a right from an owner",
  child: "sees only what an owner gives them, and never changes settings",
  guest: "sees only what an owner gives them, for a time, and never what devices recorded",
};

export const ROLE_FOR_YOU: Record<Role, string> = {
  owner: "you may do everything, and decide who else may do what",
  adult: "you see and use every device; reviewing what devices send and changing settings take a right from an owner",
  child: "you see only what an owner gives you, and never change settings",
  guest: "you see only what an owner gives you, for a time",
};

export const RIGHTS: readonly Right[] = ["view", "control", "review", "configure"];

/** The right as a choice in the form. */
export const RIGHT_LABELS: Record<Right, string> = {
  view: "See",
  control: "Use",
  review: "Review what it sends",
  configure: "Change settings",
};

/** The right as a sentence starts ("May see", "May not use"). */
const RIGHT_VERBS: Record<Right, string> = {
  view: "see",
  control: "use",
  review: "review what it sends",
  configure: "change settings",
};

export const WEEKDAYS: readonly Weekday[] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

export const WEEKDAY_LABELS: Record<Weekday, string> = {
  mon: "Mon",
  tue: "Tue",
  wed: "Wed",
  thu: "Thu",
  fri: "Fri",
  sat: "Sat",
  sun: "Sun",
};

/** How long an invitation link works, as offered. */
export const INVITATION_HOURS: readonly { hours: number; label: string }[] = [
  { hours: 1, label: "1 hour" },
  { hours: 24, label: "1 day" },
  { hours: 24 * 7, label: "7 days" },
];

/** What the person asking may do on a device. Before the hub said who they are (or if it could
 *  not), nothing is hidden: the hub refuses what they may not do anyway, and says why. */
export interface DeviceRightsNow {
  control: boolean;
  review: boolean;
  configure: boolean;
}

export function rightsOn(me: Me | undefined, id: DeviceId): DeviceRightsNow {
  // An owner may do everything, on devices that appeared since `me` was read too.
  if (!me || me.member.role === "owner") return { control: true, review: true, configure: true };
  const r = me.devices.find((d) => d.id === id);
  return { control: r?.control ?? false, review: r?.review ?? false, configure: r?.configure ?? false };
}

export function isOwner(me: Me | undefined): boolean {
  return me ? me.member.role === "owner" : true;
}

export function mayConfigureHome(me: Me | undefined): boolean {
  return me ? me.configure_home : true;
}

/** "08:00" for 480. */
export function minuteLabel(minute: number): string {
  const h = Math.floor(minute / 60) % 24;
  const m = minute % 60;
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`;
}

/** "08:00" → 480; undefined for anything else. */
export function parseMinute(text: string): number | undefined {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  return h < 24 && min < 60 ? h * 60 + min : undefined;
}

/** "weekends", "weekdays", "every day", "Mon, Wed". */
export function daysLabel(days: readonly Weekday[]): string {
  const set = new Set(days);
  const has = (ds: readonly Weekday[]) => ds.every((d) => set.has(d));
  if (set.size === 7) return "every day";
  if (set.size === 5 && has(["mon", "tue", "wed", "thu", "fri"])) return "weekdays";
  if (set.size === 2 && has(["sat", "sun"])) return "weekends";
  return WEEKDAYS.filter((d) => set.has(d))
    .map((d) => WEEKDAY_LABELS[d])
    .join(", ");
}

/** "weekends 08:00–20:00", "Fri 22:00–07:00", "weekdays all day". */
export function windowLabel(w: ScheduleWindow): string {
  const times = w.from === w.to ? "all day" : `${minuteLabel(w.from)}–${minuteLabel(w.to)}`;
  return `${daysLabel(w.days)} ${times}`;
}

/** "3 Dec 18:00" (the year too when it is not this one). */
export function untilLabel(ms: number, now = Date.now()): string {
  const at = new Date(ms);
  const sameYear = at.getFullYear() === new Date(now).getFullYear();
  const date = at.toLocaleDateString(undefined, { day: "numeric", month: "short", ...(sameYear ? {} : { year: "numeric" }) });
  const time = at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  return `${date} ${time}`;
}

/** "May see", "May not use". */
export function grantVerb(g: Grant): string {
  return `${g.effect === "allow" ? "May" : "May not"} ${RIGHT_VERBS[g.right]}`;
}

/** The parts of a grant in words: "May see", "Kitchen", "until 3 Dec 18:00", "weekends 08:00–20:00". */
export function grantParts(v: GrantView, now = Date.now()): string[] {
  const g = v.grant;
  const parts = [grantVerb(g), v.target_name];
  if (g.expires_at !== null) parts.push(v.expired ? `ended ${relativeTime(g.expires_at, now)}` : `until ${untilLabel(g.expires_at, now)}`);
  if (g.schedule) parts.push(g.schedule.windows.map(windowLabel).join(", "));
  return parts;
}

/** A control's button: its label and what it does, for screen readers ("Turn on Kitchen lamp"). */
export const ACTION_LABELS: Record<ControlAction, { label: string; verb: string }> = {
  on: { label: "On", verb: "Turn on" },
  off: { label: "Off", verb: "Turn off" },
  open: { label: "Open", verb: "Open" },
  close: { label: "Close", verb: "Close" },
  stop: { label: "Stop", verb: "Stop" },
  lock: { label: "Lock", verb: "Lock" },
  unlock: { label: "Unlock", verb: "Unlock" },
  press: { label: "Press", verb: "Press" },
};

/** What the device last reported, as it said it, shortened: a JSON state object's `state`. */
export function reportedState(c: ControlView): string | undefined {
  if (c.state === null) return undefined;
  const text = c.state.trim();
  if (text.startsWith("{")) {
    try {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      if (typeof parsed.state === "string") return parsed.state;
    } catch {
      /* cut short or not JSON: shown as it came */
    }
  }
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** The member's name as the household knows it, or their id (someone removed since). */
export function memberName(members: readonly { id: string; name: string }[], id: string): string {
  return members.find((m) => m.id === id)?.name ?? id;
}

/** The shares of a personal device its member (`by`) gave: review rights on the device itself,
 *  given by them (the hub's `share`). */
export function sharesGiven(grants: readonly GrantView[], device: DeviceId, by: string | undefined): GrantView[] {
  if (by === undefined) return [];
  return grants.filter(
    (g) =>
      g.grant.right === "review" &&
      g.grant.effect === "allow" &&
      g.grant.granted_by === by &&
      g.grant.member !== by &&
      g.grant.target.kind === "device" &&
      g.grant.target.id === device,
  );
}
