// The Household page: who is in the home (with, for an owner, adding, changing, removing and
// inviting them), what each may do beyond their role (rights, given and taken away), and the
// home's rooms. Everyone sees who is in the home and the rooms; the rest is an owner's.

import { html, nothing, type TemplateResult } from "lit-html";
import { live } from "lit-html/directives/live.js";
import { repeat } from "lit-html/directives/repeat.js";
import type { Effect } from "../generated/Effect";
import type { GrantView } from "../generated/GrantView";
import type { MemberView } from "../generated/MemberView";
import type { Right } from "../generated/Right";
import type { Role } from "../generated/Role";
import type { RoomView } from "../generated/RoomView";
import type { Schedule } from "../generated/Schedule";
import type { Target } from "../generated/Target";
import type { Weekday } from "../generated/Weekday";
import {
  grantParts,
  INVITATION_HOURS,
  isOwner,
  mayConfigureHome,
  parseMinute,
  RIGHT_LABELS,
  RIGHTS,
  ROLE_FOR_YOU,
  ROLE_IN_A_SENTENCE,
  ROLE_LABELS,
  ROLE_MEANING,
  ROLES,
  untilLabel,
  WEEKDAY_LABELS,
  WEEKDAYS,
} from "../family-model";
import { compareDevices, plural } from "../model";
import type { Actions, AppState, InvitingState } from "../state";

export function householdPage(s: AppState, a: Actions): TemplateResult {
  const owner = isOwner(s.me);
  return html`<section class="page household-page" aria-labelledby="page-title" data-testid="household">
    <nav class="crumbs" aria-label="Breadcrumb"><a href="#/" class="back">← All devices</a></nav>
    <h1 id="page-title" tabindex="-1">Household</h1>
    <p class="muted">
      ${owner
        ? "The people who use Hearth in this home, what each may do, and the rooms. A role sets what someone may do; a right gives them more, or takes some away."
        : "The people who use Hearth in this home, what you may do, and the rooms. An owner of the home decides who may do what."}
    </p>
    ${people(s, a, owner)} ${rights(s, a, owner)} ${rooms(s, a)}
  </section>`;
}

// ---- people ----

function people(s: AppState, a: Actions, owner: boolean): TemplateResult {
  const members = [...s.members].sort((x, y) => ROLES.indexOf(x.role) - ROLES.indexOf(y.role) || x.name.localeCompare(y.name));
  return html`<section class="panel" aria-labelledby="h-people" data-testid="people">
    <h2 id="h-people" tabindex="-1">People <span class="count">${members.length}</span></h2>
    ${members.length === 0
      ? html`<p class="loading" aria-busy="true">Loading…</p>`
      : html`<ul class="members plain" aria-label="People in the household">
          ${repeat(
            members,
            (m) => m.id,
            (m) => memberRow(s, a, m, owner),
          )}
        </ul>`}
    ${owner ? addMemberForm(s, a) : nothing}
  </section>`;
}

function memberRow(s: AppState, a: Actions, m: MemberView, owner: boolean): TemplateResult {
  const busy = s.familyBusy.has(`member:${m.id}`);
  const inviting = s.inviting?.member.id === m.id ? s.inviting : undefined;
  return html`<li class="member" data-testid="member" data-member-id=${m.id} data-role=${m.role} aria-busy=${busy ? "true" : "false"}>
    <div class="member-row">
      <div class="member-what">
        <strong class="member-name">${m.name}</strong>
        <span class="badge" data-role=${m.role} data-testid="role">${ROLE_LABELS[m.role]}</span>
        ${m.you ? html`<span class="tag" data-testid="you">you</span>` : nothing}
        ${m.founding ? html`<span class="tag">the hub's owner</span>` : nothing}
        ${m.has_password ? nothing : html`<span class="tag warn" data-testid="no-password">no password yet</span>`}
        <div class="muted small">${ROLE_LABELS[m.role]}: ${ROLE_MEANING[m.role]}.</div>
      </div>
      ${owner
        ? html`<div class="actions" role="group" aria-label="Change ${m.name}">
            ${m.founding
              ? nothing
              : html`<label class="inline-field"
                  ><span class="sr-only">Role of ${m.name}</span>
                  <select
                    data-testid="role-select"
                    aria-disabled=${busy ? "true" : "false"}
                    .value=${live(m.role)}
                    @change=${(e: Event) => {
                      const select = e.target as HTMLSelectElement;
                      if (busy) select.value = m.role;
                      else a.family.changeRole(m, select.value as Role);
                    }}
                  >
                    ${ROLES.map((r) => html`<option value=${r} ?selected=${r === m.role}>${ROLE_LABELS[r]}</option>`)}
                  </select></label
                >`}
            ${!m.you && !m.founding && m.has_password
              ? html`<button
                  type="button"
                  class="btn quiet"
                  data-testid="reset-password"
                  aria-label="Reset ${m.name}'s password"
                  title="For a forgotten password: ${m.name} then signs in with a new invitation, and sees that you did this"
                  @click=${() => {
                    if (!busy) a.family.resetPassword(m);
                  }}
                >
                  Reset password
                </button>`
              : nothing}
            ${m.you || m.founding || m.has_password
              ? nothing
              : html`<button
                  type="button"
                  class="btn"
                  data-testid="invite"
                  aria-label="Invite ${m.name}"
                  aria-expanded=${inviting ? "true" : "false"}
                  @click=${() => (inviting ? a.family.cancelInvite() : a.family.startInvite(m))}
                >
                  Invite
                </button>`}
            ${m.founding || m.you
              ? nothing
              : html`<button
                  type="button"
                  class="btn quiet danger"
                  data-testid="remove-member"
                  aria-label="Remove ${m.name}"
                  aria-disabled=${busy ? "true" : "false"}
                  @click=${(e: MouseEvent) => {
                    if (!busy) a.family.askRemoveMember(m, e.currentTarget as HTMLElement);
                  }}
                >
                  Remove
                </button>`}
          </div>`
        : nothing}
    </div>
    ${inviting ? invitation(s, a, inviting, busy) : nothing}
  </li>`;
}

function addMemberForm(s: AppState, a: Actions): TemplateResult {
  const busy = s.familyBusy.has("add-member");
  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const name = String(data.get("name") ?? "").trim();
    const role = String(data.get("role") ?? "adult") as Role;
    if (!name || busy) return;
    void a.family.addMember(name, role).then((done) => {
      if (done) form.reset();
    });
  };
  return html`<form class="inline-form" data-testid="add-member" @submit=${submit} aria-labelledby="h-add-member">
    <h3 id="h-add-member">Add someone</h3>
    <label>Name <input name="name" required maxlength="64" autocomplete="off" placeholder="Kim" /></label>
    <label
      >Role
      <select name="role">
        ${ROLES.map((r) => html`<option value=${r} ?selected=${r === "adult"}>${ROLE_LABELS[r]}</option>`)}
      </select></label
    >
    <button type="submit" class="btn primary" aria-disabled=${busy ? "true" : "false"}>Add</button>
    <p class="muted">They get no password: invite them, and they choose one when they open the link.</p>
  </form>`;
}

function invitation(s: AppState, a: Actions, inviting: InvitingState, busy: boolean): TemplateResult {
  const m = inviting.member;
  const made = inviting.made;
  if (!made) {
    const submit = (e: SubmitEvent) => {
      e.preventDefault();
      const hours = Number(new FormData(e.currentTarget as HTMLFormElement).get("hours") ?? 24);
      if (!busy) a.family.invite(m, hours);
    };
    return html`<form class="invitation inline-form" data-testid="invite-form" @submit=${submit}>
      <p>
        A link that signs ${m.name} in on their phone or computer, once. ${m.has_password
          ? html`They already have a password; the link lets them in without it.`
          : html`They choose a password when they open it.`}
      </p>
      <label
        >The link works for
        <select name="hours" data-testid="invite-hours">
          ${INVITATION_HOURS.map((h) => html`<option value=${h.hours} ?selected=${h.hours === 24}>${h.label}</option>`)}
        </select></label
      >
      <button type="submit" class="btn primary" aria-disabled=${busy ? "true" : "false"}>Make the link</button>
      <button type="button" class="btn quiet" @click=${() => a.family.cancelInvite()}>Cancel</button>
    </form>`;
  }
  const link = made.url ?? made.invitation.path;
  return html`<div class="invitation" data-testid="invitation" role="region" aria-labelledby="invitation-title">
    <h3 id="invitation-title" tabindex="-1">Invitation for ${m.name}</h3>
    ${made.url
      ? html`<p>
          Send ${m.name} this link, or let them scan the code with their phone. It works once, until
          ${untilLabel(made.invitation.expires_at, s.now)}, from the home network.
        </p>`
      : html`<p>
          This window has no address on the home network. In a browser on the home network, open Hearth's web address (the address
          of this computer, with the port Hearth listens on), followed by this path. It works once, until
          ${untilLabel(made.invitation.expires_at, s.now)}.
        </p>`}
    <div class="copy-row">
      <label class="grow"
        ><span class="sr-only">Invitation link for ${m.name}</span>
        <input type="text" readonly data-testid="invitation-link" .value=${link} @focus=${(e: FocusEvent) => (e.target as HTMLInputElement).select()}
      /></label>
      <button type="button" class="btn" data-testid="copy-invitation" @click=${() => a.family.copyInvitation()}>Copy</button>
    </div>
    ${made.qr ? html`<img class="qr" src=${made.qr} width="200" height="200" alt="The same link as a QR code" data-testid="invitation-qr" />` : nothing}
    <p class="muted">Anyone with the link can sign in as ${m.name} until it is used, so send it only to them.</p>
    <button type="button" class="btn" @click=${() => a.family.cancelInvite()}>Done</button>
  </div>`;
}

// ---- rights ----

function rights(s: AppState, a: Actions, owner: boolean): TemplateResult {
  const state = s.household;
  let body: TemplateResult;
  if (state?.error) body = html`<p class="warn-text" role="alert">${state.error.message}</p>`;
  else if (!state?.grants) body = html`<p class="loading" aria-busy="true">Loading…</p>`;
  else if (owner) body = ownerRights(s, a, state.grants);
  else body = ownRights(s, state.grants);
  return html`<section class="panel" aria-labelledby="h-rights" data-testid="rights">
    <h2 id="h-rights" tabindex="-1">${owner ? "Rights" : "What you may do"}</h2>
    ${body}
  </section>`;
}

/** Someone who is not an owner reads their own rights (the hub also sends the shares they gave of
 *  their own devices: those are on each device's page). */
function ownRights(s: AppState, all: GrantView[]): TemplateResult {
  const me = s.me?.member;
  const grants = me ? all.filter((g) => g.grant.member === me.id) : all;
  return html`${me ? html`<p>You are ${ROLE_IN_A_SENTENCE[me.role]} in this home: ${ROLE_FOR_YOU[me.role]}.</p>` : nothing}
  ${grants.length
    ? html`<ul class="grants plain">
        ${grants.map((g) => grantRow(s, undefined, g))}
      </ul>`
    : html`<p class="muted" data-testid="no-grants">No one gave you a right beyond your role. Ask an owner of the home if you need one.</p>`}`;
}

function ownerRights(s: AppState, a: Actions, grants: GrantView[]): TemplateResult {
  const others = s.members.filter((m) => m.role !== "owner");
  if (others.length === 0) {
    return html`<p class="muted" data-testid="no-grants">
      Only owners are in the household, and owners may do everything. Add someone above to give them rights.
    </p>`;
  }
  return html`${repeat(
    others,
    (m) => m.id,
    (m) => memberRights(s, a, m, grants.filter((g) => g.grant.member === m.id)),
  )}`;
}

function memberRights(s: AppState, a: Actions, m: MemberView, grants: GrantView[]): TemplateResult {
  return html`<div class="member-rights" data-testid="member-rights" data-rights-for=${m.id}>
    <h3 tabindex="-1">${m.name} <span class="muted">(${ROLE_LABELS[m.role]})</span></h3>
    ${grants.length
      ? html`<ul class="grants plain">
          ${repeat(
            grants,
            (g) => g.grant.id,
            (g) => grantRow(s, a, g),
          )}
        </ul>`
      : html`<p class="muted" data-testid="no-grants">
          ${m.role === "adult"
            ? `Nothing beyond the role: ${m.name} ${ROLE_MEANING.adult}.`
            : `Nothing yet: ${m.name} sees no device until you give a right below.`}
        </p>`}
    ${grantForm(s, a, m)}
  </div>`;
}

/** One grant in words; with a Remove button when `a` is given (an owner). */
function grantRow(s: AppState, a: Actions | undefined, g: GrantView): TemplateResult {
  const parts = grantParts(g, s.now);
  const busy = s.familyBusy.has(`grant:${g.grant.id}`);
  return html`<li class="grant" data-testid="grant" data-grant-id=${g.grant.id} data-effect=${g.grant.effect} data-expired=${g.expired ? "true" : "false"}>
    <span class="grant-words"
      >${parts.map((p, i) => html`${i ? html`<span class="sep" aria-hidden="true"> · </span>` : nothing}<span>${p}</span>`)}</span
    >
    ${g.expired ? html`<span class="tag">ended</span>` : nothing}
    ${a
      ? html`<button
          type="button"
          class="btn quiet small danger"
          data-testid="remove-grant"
          aria-label="Remove: ${parts.join(", ")}"
          aria-disabled=${busy ? "true" : "false"}
          @click=${() => !busy && a.family.removeGrant(g)}
        >
          Remove
        </button>`
      : nothing}
  </li>`;
}

/** "Give a right": what, on what, allow or take away, until when, and at which times. */
function grantForm(s: AppState, a: Actions, m: MemberView): TemplateResult {
  const busy = s.familyBusy.has(`grants:${m.id}`);
  const guest = m.role === "guest";
  const devices = [...s.devices.values()].sort(compareDevices);
  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    if (busy) return;
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const target = parseTarget(String(data.get("target") ?? "home"));
    const until = String(data.get("until") ?? "");
    const days = data.getAll("days").map(String) as Weekday[];
    const from = parseMinute(String(data.get("from") ?? ""));
    const to = parseMinute(String(data.get("to") ?? ""));
    const problem = form.querySelector<HTMLElement>("[data-testid=grant-problem]");
    const say = (text: string) => {
      if (problem) {
        problem.textContent = text;
        problem.focus();
      }
    };
    if (!target) return say("Choose what the right is about.");
    if (guest && !until) return say(`A guest's rights always end: choose when this one does.`);
    let schedule: Schedule | null = null;
    if (days.length > 0) {
      if (from === undefined || to === undefined) return say("Choose from and until which time of day, or untick the days.");
      schedule = { windows: [{ days, from, to }] };
    }
    const expires = until ? new Date(until).getTime() : null;
    if (expires !== null && Number.isNaN(expires)) return say("The end time is not a date and time.");
    say("");
    void a.family
      .addGrant({
        member: m.id,
        right: String(data.get("right") ?? "view") as Right,
        target,
        effect: String(data.get("effect") ?? "allow") as Effect,
        schedule,
        expires_at: expires,
      })
      .then((done) => {
        if (done) form.reset();
      });
  };
  return html`<details class="give-right" data-testid="give-right">
    <summary>Give ${m.name} a right</summary>
    <form class="grant-form" @submit=${submit}>
      <label
        >Right
        <select name="right" data-testid="grant-right">
          ${RIGHTS.map((r) => html`<option value=${r}>${RIGHT_LABELS[r]}</option>`)}
        </select></label
      >
      <label
        >On
        <select name="target" data-testid="grant-target">
          <option value="home">The whole home</option>
          ${s.rooms.length
            ? html`<optgroup label="Rooms">
                ${s.rooms.map((r) => html`<option value=${`room:${r.id}`}>${r.name}</option>`)}
              </optgroup>`
            : nothing}
          ${devices.length
            ? html`<optgroup label="Devices">
                ${devices.map((d) => html`<option value=${`device:${d.id}`}>${d.name}</option>`)}
              </optgroup>`
            : nothing}
        </select></label
      >
      <fieldset class="choice">
        <legend>Allow or take away</legend>
        <label><input type="radio" name="effect" value="allow" checked /> Allow</label>
        <label><input type="radio" name="effect" value="deny" /> Take away (even where the home or a room allows it)</label>
      </fieldset>
      <label
        >${guest ? html`<span>Until <strong>(required: a guest's rights always end)</strong></span>` : html`<span>Until <span class="muted">(optional)</span></span>`}
        <input type="datetime-local" name="until" data-testid="grant-until" ?required=${guest}
      /></label>
      <fieldset class="choice schedule">
        <legend>Only on these days <span class="muted">(optional; none ticked: at any time)</span></legend>
        <div class="days">
          ${WEEKDAYS.map((d) => html`<label class="day"><input type="checkbox" name="days" value=${d} /> ${WEEKDAY_LABELS[d]}</label>`)}
        </div>
        <label>From <input type="time" name="from" value="08:00" /></label>
        <label>until <input type="time" name="to" value="20:00" /></label>
        ${s.me ? html`<p class="muted small">In the home's time zone (${s.me.time_zone}). An end before the start runs past midnight.</p>` : nothing}
      </fieldset>
      <p class="warn-text" data-testid="grant-problem" role="alert" tabindex="-1"></p>
      <button type="submit" class="btn primary" aria-disabled=${busy ? "true" : "false"}>Give the right</button>
    </form>
  </details>`;
}

function parseTarget(value: string): Target | undefined {
  if (value === "home") return { kind: "home" };
  const room = /^room:(\d+)$/.exec(value);
  if (room) return { kind: "room", id: Number(room[1]) };
  const device = /^device:(.+)$/.exec(value);
  if (device?.[1]) return { kind: "device", id: device[1] };
  return undefined;
}

// ---- rooms ----

function rooms(s: AppState, a: Actions): TemplateResult {
  const manage = mayConfigureHome(s.me);
  return html`<section class="panel" aria-labelledby="h-rooms" data-testid="rooms">
    <h2 id="h-rooms" tabindex="-1">Rooms <span class="count">${s.rooms.length}</span></h2>
    ${s.rooms.length
      ? html`<ul class="rooms plain" aria-label="Rooms">
          ${repeat(
            s.rooms,
            (r) => r.id,
            (r) => roomRow(s, a, r, manage),
          )}
        </ul>`
      : html`<p class="muted" data-testid="no-rooms">
          No rooms yet. ${manage
            ? "Add one below, then put devices in it from their pages: a right on a room covers every device in it."
            : "An owner of the home can add them."}
        </p>`}
    ${manage ? addRoomForm(s, a) : nothing}
  </section>`;
}

function roomRow(s: AppState, a: Actions, r: RoomView, manage: boolean): TemplateResult {
  const busy = s.familyBusy.has(`room:${r.id}`);
  if (manage && s.renamingRoom === r.id) {
    const submit = (e: SubmitEvent) => {
      e.preventDefault();
      const name = String(new FormData(e.currentTarget as HTMLFormElement).get("name") ?? "").trim();
      if (name && !busy) void a.family.renameRoom(r, name);
    };
    return html`<li class="room" data-testid="room" data-room-id=${r.id}>
      <form class="inline-form" @submit=${submit} @keydown=${(e: KeyboardEvent) => e.key === "Escape" && a.family.startRenameRoom(undefined)}>
        <label>New name for ${r.name} <input name="name" required maxlength="64" .value=${r.name} autocomplete="off" /></label>
        <button type="submit" class="btn primary" aria-disabled=${busy ? "true" : "false"}>Save</button>
        <button type="button" class="btn quiet" @click=${() => a.family.startRenameRoom(undefined)}>Cancel</button>
      </form>
    </li>`;
  }
  return html`<li class="room" data-testid="room" data-room-id=${r.id}>
    <span class="room-what"><strong>${r.name}</strong> <span class="muted">${plural(r.devices, "device", "devices")}</span></span>
    ${manage
      ? html`<span class="actions">
          <button type="button" class="btn quiet small" data-testid="rename-room" aria-label="Rename ${r.name}" @click=${() => a.family.startRenameRoom(r)}>
            Rename
          </button>
          <button
            type="button"
            class="btn quiet small danger"
            data-testid="remove-room"
            aria-label="Remove ${r.name}"
            aria-disabled=${busy ? "true" : "false"}
            @click=${(e: MouseEvent) => !busy && a.family.askRemoveRoom(r, e.currentTarget as HTMLElement)}
          >
            Remove
          </button>
        </span>`
      : nothing}
  </li>`;
}

function addRoomForm(s: AppState, a: Actions): TemplateResult {
  const busy = s.familyBusy.has("add-room");
  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const name = String(new FormData(form).get("name") ?? "").trim();
    if (!name || busy) return;
    void a.family.addRoom(name).then((done) => {
      if (done) form.reset();
    });
  };
  return html`<form class="inline-form" data-testid="add-room" @submit=${submit}>
    <label>New room <input name="name" required maxlength="64" autocomplete="off" placeholder="Kitchen" /></label>
    <button type="submit" class="btn" aria-disabled=${busy ? "true" : "false"}>Add room</button>
  </form>`;
}
