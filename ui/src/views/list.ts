// The device list: what is in the home, what needs a decision, search and filters.

import { html, nothing, type TemplateResult } from "lit-html";
import { live } from "lit-html/directives/live.js";
import { repeat } from "lit-html/directives/repeat.js";
import type { Device } from "../generated/Device";
import type { DeviceId } from "../generated/DeviceId";
import type { DeviceState } from "../generated/DeviceState";
import type { Kind } from "../generated/Kind";
import { childHref, compareDevices, filtersActive, kindLabel, matches, plural, shownChildren, STATE_LABELS, STATES, vendorModel } from "../model";
import type { Actions, AppState } from "../state";
import { kindSvg, listeningSvg } from "./icons";
import { decisionButtons, kindBadge, needsYouTag, onlineTag, stateBadge, when } from "./parts";
import { mayConfigureHome, rightsOn } from "../family-model";
import { firstRun, readBefore } from "./first-run";

export function listPage(s: AppState, a: Actions): TemplateResult {
  const all = [...s.devices.values()];
  // A row the person just decided about stays where it was, even if the filter no longer
  // matches it (the New filter, after an approval), until the search or filters change.
  const kept = new Set(s.listOrder ?? []);
  const shown = all.filter((d) => matches(d, s.filters) || kept.has(d.id)).sort(keptOrder(s.listOrder));
  const newCount = all.filter((d) => d.state === "new").length;
  const online = all.filter((d) => d.online).length;
  const reached = all.reduce((n, d) => n + d.children.length, 0);
  const bridges = all.filter((d) => d.children.length > 0).length;
  // The first-run explanation is for whoever sees the Approve and Block buttons.
  const decides = mayConfigureHome(s.me) || all.some((d) => rightsOn(s.me, d.id).configure);
  return html`<section class="page list-page" aria-labelledby="page-title">
    <div class="page-head">
      <h1 id="page-title" tabindex="-1">Devices</h1>
      ${s.loaded && all.length > 0
        ? html`<p class="summary" data-testid="list-summary">
            ${plural(all.length, "device", "devices")} · ${online} online${reached > 0
              ? html` · ${reached} more reached through ${bridges === 1 ? "a bridge" : `${bridges} bridges`}`
              : nothing}
          </p>`
        : nothing}
      ${mayConfigureHome(s.me) ? addDeviceForm(a) : nothing}
    </div>
    ${s.loaded && decides && !readBefore ? firstRun() : nothing}
    ${newCount > 0
      ? html`<p class="new-count" data-testid="new-count">
          <span class="dot" aria-hidden="true"></span>
          <span><strong>${plural(newCount, "new device needs", "new devices need")} a decision.</strong>
          Until you approve or block ${newCount === 1 ? "it" : "them"}, Hearth keeps ${newCount === 1 ? "it" : "them"} in
          quarantine.</span>
        </p>`
      : nothing}
    ${all.length > 0 || filtersActive(s.filters) ? toolbar(s, a, all) : nothing}
    ${undoBar(s, a)} ${approveAllButton(s, a, shown)}
    ${body(s, a, all, shown)}
    ${s.loaded && decides && readBefore ? firstRun() : nothing}
  </section>`;
}

/** Rows where they were when the person decided; devices new since then by the usual order. */
function keptOrder(order: DeviceId[] | undefined): (x: Device, y: Device) => number {
  if (!order) return compareDevices;
  const place = new Map(order.map((id, i) => [id, i]));
  return (x, y) => (place.get(x.id) ?? Infinity) - (place.get(y.id) ?? Infinity) || compareDevices(x, y);
}

/** "Approve all 4 shown": the new devices the search and filters show, each one it may decide. */
function approveAllButton(s: AppState, a: Actions, shown: Device[]): TemplateResult | typeof nothing {
  const waiting = shown.filter((d) => d.state === "new" && rightsOn(s.me, d.id).configure);
  if (waiting.length < 2) return nothing;
  return html`<p class="approve-all">
    <button type="button" class="btn" data-testid="approve-all" @click=${() => a.approveAll(waiting)}>
      Approve all ${waiting.length} new devices shown
    </button>
  </p>`;
}

function undoBar(s: AppState, a: Actions): TemplateResult | typeof nothing {
  const undo = s.undo;
  if (!undo) return nothing;
  const what = undo.ids.length === 1 ? undo.names[0] : `${undo.ids.length} devices`;
  return html`<div class="undo-bar" role="status" data-testid="undo-bar">
    <span>Approved ${what}.</span>
    <button type="button" class="btn quiet" data-testid="undo" @click=${() => a.undoApproveAll()}>Undo</button>
  </div>`;
}

function toolbar(s: AppState, a: Actions, all: Device[]): TemplateResult {
  // Offer the kinds present (plus the selected one, so a filter never silently vanishes).
  const kinds = [...new Set<Kind>([...all.map((d) => d.kind), ...(s.filters.kind ? [s.filters.kind] : [])])].sort((x, y) =>
    kindLabel(x).localeCompare(kindLabel(y)),
  );
  return html`<div class="toolbar" role="search" aria-label="Find devices">
    <label class="field search">
      <span class="label">Search</span>
      <input
        type="search"
        data-testid="search"
        placeholder="Name, vendor, model, address or kind"
        autocomplete="off"
        spellcheck="false"
        .value=${live(s.filters.query)}
        @input=${(e: InputEvent) => a.setFilters({ query: (e.target as HTMLInputElement).value })}
      />
    </label>
    <label class="field">
      <span class="label">State</span>
      <select
        data-testid="filter-state"
        .value=${live(s.filters.state)}
        @change=${(e: Event) => a.setFilters({ state: (e.target as HTMLSelectElement).value as DeviceState | "" })}
      >
        <option value="">All states</option>
        ${STATES.map((st) => html`<option value=${st} ?selected=${s.filters.state === st}>${STATE_LABELS[st]}</option>`)}
      </select>
    </label>
    <label class="field">
      <span class="label">Kind</span>
      <select
        data-testid="filter-kind"
        .value=${live(s.filters.kind)}
        @change=${(e: Event) => a.setFilters({ kind: (e.target as HTMLSelectElement).value as Kind | "" })}
      >
        <option value="">All kinds</option>
        ${kinds.map((k) => html`<option value=${k} ?selected=${s.filters.kind === k}>${kindLabel(k)}</option>`)}
      </select>
    </label>
  </div>`;
}

function body(s: AppState, a: Actions, all: Device[], shown: Device[]): TemplateResult {
  if (s.loadError && !s.loaded) {
    return html`<div class="panel error-panel" role="alert">
      <h2>The device list could not be loaded</h2>
      <p>${s.loadError.message}</p>
      <button type="button" class="btn" @click=${() => a.retry()}>Try again</button>
    </div>`;
  }
  if (!s.loaded) return html`<p class="loading" aria-busy="true">Loading devices…</p>`;
  if (all.length === 0) return mayConfigureHome(s.me) ? emptyHome(s) : nothingShared(s);
  if (shown.length === 0) return emptyFilter(s, a);
  return html`<ul class="devices" aria-label="Devices" aria-describedby=${filtersActive(s.filters) ? "filter-summary" : nothing}>
      ${repeat(shown, (d) => d.id, (d) => row(d, s, a))}
    </ul>
    ${filtersActive(s.filters)
      ? html`<p class="filter-summary" id="filter-summary">
          Showing ${shown.length} of ${plural(all.length, "device", "devices")}.
          <button type="button" class="link" @click=${() => a.clearFilters()}>Show all</button>
        </p>`
      : nothing}`;
}

function row(d: Device, s: AppState, a: Actions): TemplateResult {
  const what = vendorModel(d);
  const room = d.room === null ? undefined : s.rooms.find((r) => r.id === d.room)?.name;
  return html`<li
    class="device"
    data-testid="device-row"
    data-device-id=${d.id}
    data-state=${d.state}
    aria-busy=${s.busy.has(d.id) ? "true" : "false"}
  >
    ${kindBadge(d)}
    <div class="device-main">
      <a class="device-name" href="#/devices/${encodeURIComponent(d.id)}">${d.name}</a>
      <div class="device-what">
        <span class="kind">${kindLabel(d.kind)}</span>${what ? html`<span class="sep" aria-hidden="true"> · </span>${what}` : nothing}
      </div>
      <div class="device-meta">
        ${d.addresses.length > 0
          ? html`<span class="addresses">${d.addresses.map((ip) => html`<code>${ip}</code> `)}</span>`
          : html`<span class="muted">no address</span>`}
        ${room ? html`<span data-testid="device-room">in ${room}</span>` : nothing}
        <span>First seen ${when(d.first_seen, s.now)}</span>
        <span>Last seen ${when(d.last_seen, s.now)}</span>
      </div>
    </div>
    <div class="device-status">${stateBadge(d.state)} ${onlineTag(d)} ${needsYouTag(d)}</div>
    ${rightsOn(s.me, d.id).configure ? decisionButtons(d, s, a) : nothing}
    ${children(d, s)}
  </li>`;
}

/** The devices a bridge speaks for (its Zigbee sensors and lamps), under it: each has a page. */
function children(d: Device, s: AppState): TemplateResult | typeof nothing {
  const shown = shownChildren(d, s.filters);
  if (shown.length === 0) return nothing;
  return html`<ul class="children" data-testid="children" aria-label="Devices reached through ${d.name}">
    ${shown.map(
      (c) => html`<li class="child" data-testid="child-row" data-child-key=${c.key}>
        <span class="kind-icon small" aria-hidden="true">${kindSvg(c.kind)}</span>
        <a class="device-name" href=${childHref(d.id, c.key)}>${c.name}</a>
        <span class="device-what"
          >${kindLabel(c.kind)}${vendorModel(c) ? html`<span class="sep" aria-hidden="true"> · </span>${vendorModel(c)}` : nothing}</span
        >
        <span class="muted">through ${d.name}</span>
      </li>`,
    )}
  </ul>`;
}

/** For devices that speak MQTT but never announce themselves (most Tasmota and Zigbee2MQTT set-ups). */
function addDeviceForm(a: Actions): TemplateResult {
  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const name = String(new FormData(form).get("name") ?? "").trim();
    if (!name) return;
    a.addDevice(name);
    form.reset();
  };
  return html`<details class="add-device" data-testid="add-device">
    <summary>Add a device by hand</summary>
    <form @submit=${submit}>
      <label>Name <input name="name" required maxlength="100" placeholder="Kitchen plug" autocomplete="off" /></label>
      <button type="submit" class="btn primary">Add and issue a credential</button>
      <p class="muted">For a device that connects to Hearth's MQTT broker but does not announce itself on the network. It is approved at once; its MQTT username and secret are shown once.</p>
    </form>
  </details>`;
}

function emptyHome(s: AppState): TemplateResult {
  const error = s.status?.discovery.error;
  const off = s.status && !s.status.discovery.enabled;
  return html`<div class="panel empty" data-testid="empty-state" data-empty="no-devices">
    <div class="empty-icon" aria-hidden="true">${listeningSvg}</div>
    <h2>No devices yet</h2>
    ${error
      ? html`<p class="warn-text">Discovery could not start: ${error}</p>`
      : off
        ? html`<p class="warn-text">Discovery is turned off on this hub, so no devices will show up on their own.</p>`
        : html`<p>
            Hearth is listening for devices that announce themselves on your home network over
            <strong>mDNS</strong> (also known as Bonjour or Zeroconf). Most devices announce within a minute of being
            powered up, so switching one off and on again is a quick way to make it appear.
          </p>`}
    <p>New devices appear here by themselves; there is no need to reload.</p>
    <p class="hint">
      No devices at hand? Run <code>hearth demo</code> on the hub to announce a simulated home of 18 devices and try
      approving and blocking them.
    </p>
  </div>`;
}

/** Someone who sees only what they were given, and was given nothing (yet). */
function nothingShared(s: AppState): TemplateResult {
  const me = s.me?.member;
  return html`<div class="panel empty" data-testid="empty-state" data-empty="nothing-shared">
    <div class="empty-icon" aria-hidden="true">${listeningSvg}</div>
    <h2>No devices shared with you yet</h2>
    <p>
      ${me ? html`${me.name}, you` : "You"} see the devices an owner of the home lets you see: a room, a device, or the whole home.
      Ask one of them (the <a href="#/household">Household</a> page lists who they are). What they share with you shows up here at
      once; there is no need to reload.
    </p>
  </div>`;
}

function emptyFilter(s: AppState, a: Actions): TemplateResult {
  const parts: TemplateResult[] = [];
  if (s.filters.query.trim()) parts.push(html`match “${s.filters.query.trim()}”`);
  if (s.filters.state) parts.push(html`are ${STATE_LABELS[s.filters.state].toLowerCase()}`);
  if (s.filters.kind) parts.push(html`are of kind ${kindLabel(s.filters.kind).toLowerCase()}`);
  return html`<div class="panel empty" data-testid="empty-state" data-empty="filtered" role="status">
    <h2>No devices match</h2>
    <p>
      None of the ${plural(s.devices.size, "device", "devices")} ${parts.map((p, i) => html`${i > 0 ? " and " : ""}${p}`)}.
    </p>
    <button type="button" class="btn" @click=${() => a.clearFilters()}>Clear search and filters</button>
  </div>`;
}
