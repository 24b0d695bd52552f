// The Activity page: the audit as people read it ("Sam blocked Kitchen lamp · from the web,
// 10.0.0.7"), newest first, refused attempts marked, what others did to the reader's own devices
// highlighted; filtered by member, device and time, a page at a time ("Older").

import { html, nothing, type TemplateResult } from "lit-html";
import { live } from "lit-html/directives/live.js";
import { repeat } from "lit-html/directives/repeat.js";
import type { AuditView } from "../generated/AuditView";
import { isOwner } from "../family-model";
import { absoluteTime, compareDevices, isoTime, originLabel, relativeTime } from "../model";
import type { Actions, ActivityFilters, AppState } from "../state";

const SINCE_CHOICES: readonly { value: ActivityFilters["since"]; label: string }[] = [
  { value: "24h", label: "Last 24 hours" },
  { value: "7d", label: "Last 7 days" },
  { value: "30d", label: "Last 30 days" },
  { value: "", label: "All of it" },
];

export function activityPage(s: AppState, a: Actions): TemplateResult {
  return html`<section class="page activity-page" aria-labelledby="page-title" data-testid="activity">
    <nav class="crumbs" aria-label="Breadcrumb"><a href="#/" class="back">← All devices</a></nav>
    <h1 id="page-title" tabindex="-1">Activity</h1>
    <p class="muted">
      ${isOwner(s.me)
        ? "Who did what in Hearth, newest first: every change, every sign-in, every look at someone's own device, and what was refused."
        : "What you did in Hearth, and what others did to your own devices, newest first."}
    </p>
    ${filters(s, a)} ${body(s, a)}
  </section>`;
}

function filters(s: AppState, a: Actions): TemplateResult {
  const f = s.activityFilters;
  const devices = [...s.devices.values()].sort(compareDevices);
  return html`<div class="toolbar" role="search" aria-label="Filter the activity">
    ${isOwner(s.me)
      ? html`<label class="field">
          <span class="label">Who</span>
          <select
            data-testid="activity-member"
            .value=${live(f.member)}
            @change=${(e: Event) => a.family.setActivityFilters({ member: (e.target as HTMLSelectElement).value })}
          >
            <option value="">Everyone</option>
            ${s.members.map((m) => html`<option value=${m.id} ?selected=${f.member === m.id}>${m.name}</option>`)}
            <option value="hearth" ?selected=${f.member === "hearth"}>Hearth itself</option>
          </select>
        </label>`
      : nothing}
    <label class="field">
      <span class="label">Device</span>
      <select
        data-testid="activity-device"
        .value=${live(f.device)}
        @change=${(e: Event) => a.family.setActivityFilters({ device: (e.target as HTMLSelectElement).value })}
      >
        <option value="">Any device, or none</option>
        ${devices.map((d) => html`<option value=${d.id} ?selected=${f.device === d.id}>${d.name}</option>`)}
      </select>
    </label>
    <label class="field">
      <span class="label">When</span>
      <select
        data-testid="activity-since"
        .value=${live(f.since)}
        @change=${(e: Event) => a.family.setActivityFilters({ since: (e.target as HTMLSelectElement).value as ActivityFilters["since"] })}
      >
        ${SINCE_CHOICES.map((c) => html`<option value=${c.value} ?selected=${f.since === c.value}>${c.label}</option>`)}
      </select>
    </label>
  </div>`;
}

function body(s: AppState, a: Actions): TemplateResult {
  const state = s.activity;
  if (!state || (!state.loaded && state.loading)) return html`<p class="loading" aria-busy="true">Loading…</p>`;
  if (state.error && state.entries.length === 0) return html`<div class="panel error-panel" role="alert"><p>${state.error.message}</p></div>`;
  if (state.entries.length === 0) {
    const f = s.activityFilters;
    const filtered = f.member !== "" || f.device !== "";
    return html`<div class="panel empty" data-testid="activity-empty" role="status">
      <h2>Nothing ${f.since ? "in this time" : "yet"}</h2>
      <p>
        ${filtered
          ? "Nothing matches these filters. Choose everyone and any device, or a longer time."
          : f.since
            ? "Nothing was done in Hearth in this time. Choose a longer time to see more."
            : "Nothing was done in Hearth yet: approving a device, adding someone or signing in will show up here."}
      </p>
      ${filtered || f.since
        ? html`<button type="button" class="btn" @click=${() => a.family.setActivityFilters({ member: "", device: "", since: "" })}>
            Show all of it
          </button>`
        : nothing}
    </div>`;
  }
  return html`<ol class="audit plain" data-testid="audit" aria-label="Activity, newest first">
      ${repeat(
        state.entries,
        (e) => e.id,
        (e) => row(s, e),
      )}
    </ol>
    ${state.error ? html`<p class="warn-text" role="alert">${state.error.message}</p>` : nothing}
    ${state.nextBefore !== null
      ? html`<p>
          <button
            type="button"
            class="btn"
            data-testid="older"
            aria-disabled=${state.loading ? "true" : "false"}
            @click=${() => a.family.olderActivity()}
          >
            ${state.loading ? "Loading…" : "Older"}
          </button>
        </p>`
      : html`<p class="muted" data-testid="activity-end">That is all of it.</p>`}`;
}

function row(s: AppState, e: AuditView): TemplateResult {
  return html`<li
    class="audit-row"
    data-testid="audit-row"
    data-audit-id=${e.id}
    data-action=${e.action}
    data-refused=${e.refused ? "true" : "false"}
    data-about-you=${e.about_you ? "true" : "false"}
    tabindex="-1"
  >
    <time datetime=${isoTime(e.at)} title=${absoluteTime(e.at)}>${relativeTime(e.at, s.now)}</time>
    <span class="audit-what">
      <strong>${e.who}</strong> ${e.words}
      ${e.refused ? html`<span class="badge refused-badge" data-testid="refused">Refused</span>` : nothing}
      ${e.about_you ? html`<span class="badge about-you" data-testid="about-you">about your device</span>` : nothing}
    </span>
    <span class="audit-from muted">from ${originLabel(e.origin)}${e.address ? html`, <code>${e.address}</code>` : nothing}</span>
  </li>`;
}
