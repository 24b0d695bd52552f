// The device page: everything Hearth knows about one device, and the same decisions as the list.

import { html, nothing, type TemplateResult } from "lit-html";
import { live } from "lit-html/directives/live.js";
import type { Device } from "../generated/Device";
import type { DeviceDetail } from "../generated/DeviceDetail";
import type { Service } from "../generated/Service";
import type { StateChange } from "../generated/StateChange";
import { ACTOR_LABELS, childHref, kindLabel, originLabel, plural, STATE_LABELS, vendorModel } from "../model";
import type { ChildDevice } from "../generated/ChildDevice";
import { presence, reachOf, stateMeaning, whatDecisionsDo } from "../device-words";
import { CATEGORY_LABELS, interval } from "../review-model";
import { kindSvg } from "./icons";
import { advanced } from "./advanced";
import "./device-parts.css";
import type { Actions, AppState, DetailState } from "../state";
import { brokerRequests, brokerSection } from "./broker";
import { internetSection } from "./internet";
import { reviewSection } from "./review";
import { mergeQuestions } from "./identity";
import { decisionButtons, kindBadge, onlineTag, stateBadge, when } from "./parts";
import { controlsSection } from "./controls";
import { readingItem, summaryReadings } from "./readings";
import { isOwner, memberName, rightsOn, sharesGiven, untilLabel } from "../family-model";
import type { GrantView } from "../generated/GrantView";

const back = html`<nav class="crumbs" aria-label="Breadcrumb"><a href="#/" class="back">← All devices</a></nav>`;

export function devicePage(s: AppState, a: Actions, detail: DetailState): TemplateResult {
  if (detail.forgotten) {
    return html`<section class="page" aria-labelledby="page-title">
      ${back}
      <div class="panel empty" role="status">
        <h1 id="page-title" tabindex="-1">This device was forgotten</h1>
        <p>Hearth deleted it and everything recorded about it. If it is still on the network, it will appear again in the list as a new device.</p>
      </div>
    </section>`;
  }
  if (detail.error) {
    return html`<section class="page" aria-labelledby="page-title">
      ${back}
      <div class="panel error-panel" role="alert">
        <h1 id="page-title" tabindex="-1">${detail.error.code === "not_found" ? "No such device" : "This device could not be loaded"}</h1>
        <p>${detail.error.message}</p>
        <button type="button" class="btn" @click=${() => a.retry()}>Try again</button>
      </div>
    </section>`;
  }
  if (!detail.data) {
    return html`<section class="page">${back}<p class="loading" aria-busy="true">Loading device…</p></section>`;
  }
  // The list's copy may be newer than the page's (events update it first).
  const d = s.devices.get(detail.id) ?? detail.data.device;
  return loaded(s, a, d, detail.data, detail);
}

function loaded(s: AppState, a: Actions, d: Device, detail: DeviceDetail, page: DetailState): TemplateResult {
  const route = s.route;
  if (route.name === "device" && route.child !== undefined) {
    const key = route.child;
    return childPage(d, page, d.children.find((c) => c.key === key), key);
  }
  const what = vendorModel(d);
  // What the person may do here; the hub checks again whatever is shown.
  const may = rightsOn(s.me, d.id);
  const reach = reachOf(d, page.network?.enforcement);
  const decision = html`<div class="panel decision" data-state=${d.state} data-testid="decision-panel">
    <p data-testid="state-meaning">${stateMeaning(d, reach)}</p>
    <p class="muted" data-testid="decisions-do">${whatDecisionsDo(reach)}</p>
    ${may.configure ? decisionButtons(d, s, a) : nothing}
  </div>`;
  const needs = needsYouItems(s, a, d, detail, page);
  return html`<article class="page device-page" data-testid="device-page" data-device-id=${d.id} aria-labelledby="page-title">
    ${back}
    <header class="device-head">
      ${kindBadge(d, true)}
      <div class="device-title">
        <h1 id="page-title" tabindex="-1">${d.name}</h1>
        <p class="device-what">${kindLabel(d.kind)}${what ? html` · ${what}` : nothing}</p>
        ${may.configure ? renameForm(a, d) : nothing}
      </div>
      <div class="device-status">${stateBadge(d.state)} ${onlineTag(d)}</div>
    </header>

    ${summary(s, d, page)}
    ${d.state === "new" || needs.length > 0
      ? html`<section class="panel needs-you-box" id="needs-you" aria-labelledby="h-needs-you" data-testid="needs-you-box">
          <h2 id="h-needs-you" tabindex="-1">Needs you</h2>
          ${d.state === "new" ? decision : nothing} ${needs}
        </section>`
      : nothing}
    ${d.state === "new" ? nothing : decision}

    ${controlsSection(s, a, d, page)} ${placement(s, a, d)}
    ${may.review ? html`${reviewSection(s, a, d, page)} ${internetSection(s, a, d, page)}` : nothing}

    ${advanced(html`
      ${isOwner(s.me) ? brokerSection(s, a, d, page) : nothing}

      <section class="panel" aria-labelledby="h-recognised" data-testid="recognition">
        <h2 id="h-recognised">Recognised as</h2>
        <p>
          Recognised as <strong>${kindLabel(d.kind)}</strong>${what ? html` (${what})` : nothing} by rule
          <code>${d.rule}</code>.
        </p>
        <p class="muted">${d.reason}</p>
      </section>

      <section class="panel" aria-labelledby="h-overview">
        <h2 id="h-overview">Overview</h2>
        <dl class="facts">
          <dt>Device id</dt>
          <dd><code>${d.id}</code></dd>
          <dt>Addresses</dt>
          <dd>${d.addresses.length ? d.addresses.map((ip) => html`<code>${ip}</code> `) : html`<span class="muted">none known</span>`}</dd>
          <dt>First seen</dt>
          <dd>${when(d.first_seen, s.now)}</dd>
          <dt>Last seen</dt>
          <dd>${when(d.last_seen, s.now)} · ${presence(d).label.toLowerCase()}</dd>
        </dl>
      </section>

      ${servicesSection(s, d)}

      <section class="panel" aria-labelledby="h-keys">
        <h2 id="h-keys">Identity keys</h2>
        <p class="muted">The stable facts that tie this device's services together, so a new address does not make it a new device.</p>
        ${detail.identity_keys.length
          ? html`<ul class="keys" data-testid="identity-keys">
              ${detail.identity_keys.map((k) => html`<li><code>${k}</code></li>`)}
            </ul>`
          : html`<p class="muted">None yet.</p>`}
      </section>

      <section class="panel" aria-labelledby="h-history">
        <h2 id="h-history">History</h2>
        ${detail.history.length
          ? html`<ol class="history" data-testid="history">
              ${[...detail.history].reverse().map((h) => historyEntry(s, h))}
            </ol>`
          : html`<p class="muted">No changes recorded.</p>`}
      </section>
    `)}
  </article>`;
}

function servicesSection(s: AppState, d: Device): TemplateResult {
  const services = [...d.services].sort((x, y) => Number(y.present) - Number(x.present) || x.type.localeCompare(y.type));
  return html`<section class="panel" aria-labelledby="h-services">
    <h2 id="h-services">Services <span class="count">${services.length}</span></h2>
    <p class="muted">What the device announced on the network (mDNS), from its latest sightings.</p>
    ${services.length ? services.map((svc) => service(svc, s.now)) : html`<p class="muted">It has announced nothing on the network.</p>`}
  </section>`;
}

/** Where a person goes first: what it is, how it is now, what it sends and how often. */
function summary(s: AppState, d: Device, page: DetailState): TemplateResult {
  const states = (page.controls ?? []).filter((c) => c.state !== null && !c.child);
  // The list's copy of the device is updated first: a block hides its readings at once.
  const readings = d.state === "approved" ? summaryReadings(page.readings ?? []) : [];
  const review = page.review;
  const span = review ? Math.max(1, review.until - review.since) : 0;
  const categories = review ? review.categories.map((c) => CATEGORY_LABELS[c.category].toLowerCase()) : [];
  return html`<section class="panel summary-card" aria-labelledby="h-summary" data-testid="summary">
    <h2 id="h-summary" class="sr-only">Summary</h2>
    <ul class="plain summary-facts">
      <li data-testid="summary-presence">${presenceSentence(s, d)}</li>
      ${d.rule === "discovery"
        ? html`<li data-testid="summary-self-described" class="muted">
            It is shown as a ${kindLabel(d.kind).toLowerCase()} because it says so in its own messages: any device can claim to be
            anything, so this tells you what it claims, not what it is.
          </li>`
        : nothing}
      ${states.length || readings.length
        ? html`<li data-testid="summary-state">
            Now: ${states.map((c, i) => html`${i > 0 ? ", " : ""}${c.name} <strong>${c.state}</strong>`)}${readings.map(
              (r, i) => html`${i > 0 || states.length ? " · " : ""}${readingItem(r)}`,
            )}
          </li>`
        : nothing}
      ${d.children.length
        ? html`<li>Speaks for ${plural(d.children.length, "device", "devices")}: ${d.children.map(
            (c, i) => html`${i > 0 ? ", " : ""}<a href=${childHref(d.id, c.key)}>${c.name}</a>`,
          )}</li>`
        : nothing}
      ${review && review.messages > 0
        ? html`<li data-testid="summary-sends">
            Sent ${plural(review.messages, "message", "messages")} in the last ${interval(span)} (about one every
            ${interval(span / review.messages)})${categories.length ? html`: ${categories.join(", ")}` : nothing}.
          </li>`
        : review
          ? html`<li data-testid="summary-sends">Sent nothing through Hearth in the last ${interval(span)}.</li>`
          : nothing}
    </ul>
  </section>`;
}

function presenceSentence(s: AppState, d: Device): TemplateResult {
  // One address says where it is; with several (announced and connected), the list is below.
  const from = d.addresses.length === 1 ? html` from <code>${d.addresses[0]}</code>` : nothing;
  if (d.connected) return html`<strong>Connected</strong> to Hearth's broker${from}.`;
  if (d.online) return html`<strong>Online</strong>: announcing itself on the network${from}.`;
  return html`<strong>Offline</strong>: last seen ${when(d.last_seen, s.now)}.`;
}

/** What waits for a person on this device: merge questions and what it asked to send. */
function needsYouItems(s: AppState, a: Actions, d: Device, detail: DeviceDetail, page: DetailState): TemplateResult[] {
  const items: TemplateResult[] = [];
  const merge = mergeQuestions(s, a, d, detail.merge_proposals);
  if (detail.merge_proposals.length > 0) items.push(html`${merge}`);
  const requests = isOwner(s.me) && page.broker ? brokerRequests(s, a, d, page.broker) : [];
  items.push(...requests);
  if (d.state === "approved" && d.uses_broker && d.allowed_topics === 0 && requests.length === 0) {
    items.push(html`<p data-testid="nothing-allowed">
      Nothing is allowed yet, so Hearth refuses every message ${d.name} sends. What it tries shows up here, to allow in one step;
      or add a rule under Advanced.
    </p>`);
  }
  return items;
}

/** Rename, in place: a disclosure holding a one-field form (no extra state to keep). */
function renameForm(a: Actions, d: Device): TemplateResult {
  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const name = String(new FormData(form).get("name") ?? "").trim();
    if (!name || name === d.name) return;
    a.rename(d, name);
    (form.closest("details") as HTMLDetailsElement | null)?.removeAttribute("open");
  };
  return html`<details class="rename" data-testid="rename">
    <summary>Rename</summary>
    <form @submit=${submit}>
      <label>New name <input name="name" required maxlength="100" value=${d.name} autocomplete="off" data-testid="rename-input" /></label>
      <button type="submit" class="btn primary" data-testid="rename-save">Save name</button>
    </form>
  </details>`;
}

/** A device behind a bridge: what the bridge says of it, and its controls. */
function childPage(bridge: Device, page: DetailState, c: ChildDevice | undefined, key: string): TemplateResult {
  const backToBridge = html`<nav class="crumbs" aria-label="Breadcrumb">
    <a href="#/" class="back">← All devices</a> ·
    <a href="#/devices/${encodeURIComponent(bridge.id)}">${bridge.name}</a>
  </nav>`;
  if (!c) {
    return html`<section class="page" aria-labelledby="page-title">
      ${backToBridge}
      <div class="panel empty" role="status">
        <h1 id="page-title" tabindex="-1">${bridge.name} no longer lists this device</h1>
        <p>The bridge's latest list of devices does not include <code>${key}</code>: it was removed from the bridge, or renamed there.</p>
      </div>
    </section>`;
  }
  const what = vendorModel(c);
  const controls = (page.controls ?? []).filter((x) => x.child === c.key);
  const readings = bridge.state === "approved" ? summaryReadings(page.readings ?? [], c.key) : [];
  return html`<article class="page device-page child-page" data-testid="child-page" data-child-key=${c.key} aria-labelledby="page-title">
    ${backToBridge}
    <header class="device-head">
      <span class="kind-icon big" aria-hidden="true">${kindSvg(c.kind)}</span>
      <div class="device-title">
        <h1 id="page-title" tabindex="-1">${c.name}</h1>
        <p class="device-what">${kindLabel(c.kind)}${what ? html` · ${what}` : nothing}</p>
      </div>
    </header>
    <section class="panel summary-card" data-testid="summary">
      <p>
        Reached through <a href="#/devices/${encodeURIComponent(bridge.id)}">${bridge.name}</a>, which is
        ${presence(bridge).label.toLowerCase()}. Everything it sends goes through the bridge, so the bridge's approval, rules
        and privacy choices are also this device's.
      </p>
      ${c.reports.length
        ? html`<p>It reports: ${c.reports.map((r, i) => html`${i > 0 ? ", " : ""}<code>${r}</code>`)}.</p>`
        : html`<p class="muted">The bridge lists nothing it reports.</p>`}
      ${controls.length
        ? html`<ul class="plain">
            ${controls.map((x) => html`<li>${x.name}: <strong>${x.state ?? "nothing reported yet"}</strong></li>`)}
          </ul>`
        : nothing}
      ${readings.length
        ? html`<p data-testid="summary-state">Now: ${readings.map((r, i) => html`${i > 0 ? " · " : ""}${readingItem(r)}`)}</p>`
        : nothing}
      <p class="muted">Its id on the bridge: <code>${c.key}</code>.</p>
    </section>
  </article>`;
}

function service(svc: Service, now: number): TemplateResult {
  return html`<div class="service" data-testid="service" data-type=${svc.type} data-present=${svc.present ? "true" : "false"}>
    <h3>
      <code class="svc-type">${svc.type}</code>
      <span class="svc-instance">${svc.instance}</span>
      ${svc.present ? nothing : html`<span class="tag">gone</span>`}
    </h3>
    <dl class="facts compact">
      <dt>Host</dt>
      <dd><code>${svc.host}</code></dd>
      <dt>Port</dt>
      <dd><code>${svc.port}</code></dd>
      <dt>Addresses</dt>
      <dd>${svc.addresses.length ? svc.addresses.map((ip) => html`<code>${ip}</code> `) : html`<span class="muted">none</span>`}</dd>
      <dt>Seen</dt>
      <dd>first ${when(svc.first_seen, now)}, last ${when(svc.last_seen, now)}</dd>
    </dl>
    ${svc.txt.length
      ? html`<div class="table-wrap">
          <table class="txt" data-testid="txt-table">
            <caption>
              TXT records (${plural(svc.txt.length, "entry", "entries")})
            </caption>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              ${svc.txt.map(
                (t) => html`<tr>
                  <th scope="row"><code>${t.key}</code></th>
                  <td>${t.value === "" ? html`<span class="muted">(empty)</span>` : html`<code>${t.value}</code>`}</td>
                </tr>`,
              )}
            </tbody>
          </table>
        </div>`
      : html`<p class="muted">No TXT records.</p>`}
  </div>`;
}

/** Where the device is and whose it is: a room (a right on a room covers its devices), and the
 *  member whose own device it is (a phone, a watch: their data is theirs), or the household. */
function placement(s: AppState, a: Actions, d: Device): TemplateResult {
  const busy = s.familyBusy.has(`device:${d.id}`);
  const roomName = d.room === null ? undefined : s.rooms.find((r) => r.id === d.room)?.name;
  const owner = isOwner(s.me);
  const mine = d.member !== null && d.member === s.me?.member.id;
  return html`<section class="panel" aria-labelledby="h-placement" data-testid="placement">
    <h2 id="h-placement">Room and owner</h2>
    <div class="placement">
      ${owner
        ? html`<label class="field">
            <span class="label">Room</span>
            <select
              data-testid="room-select"
              aria-disabled=${busy ? "true" : "false"}
              .value=${live(d.room === null ? "" : String(d.room))}
              @change=${(e: Event) => {
                const v = (e.target as HTMLSelectElement).value;
                a.family.setRoom(d, v === "" ? null : Number(v));
              }}
            >
              <option value="" ?selected=${d.room === null}>No room</option>
              ${s.rooms.map((r) => html`<option value=${String(r.id)} ?selected=${d.room === r.id}>${r.name}</option>`)}
            </select>
          </label>`
        : html`<p>Room: <strong>${roomName ?? "none"}</strong></p>`}
      ${mine
        ? html`<p>
            Whose: <strong>yours</strong>
            <button type="button" class="btn quiet" data-testid="give-back" @click=${() => a.family.setPersonal(d, null)}>
              Give it back to the household
            </button>
          </p>`
        : owner && d.member === null
        ? html`<label class="field">
            <span class="label">Whose device</span>
            <select
              data-testid="personal-select"
              aria-disabled=${busy ? "true" : "false"}
              .value=${live(d.member ?? "")}
              @change=${(e: Event) => {
                const v = (e.target as HTMLSelectElement).value;
                a.family.setPersonal(d, v === "" ? null : v);
              }}
            >
              <option value="" ?selected=${d.member === null}>The household's</option>
              ${s.members.map((m) => html`<option value=${m.id} ?selected=${d.member === m.id}>${m.name}'s own</option>`)}
            </select>
          </label>`
        : html`<p>Whose: <strong>${d.member === null ? "the household's" : `${memberName(s.members, d.member)}'s own`}</strong></p>`}
    </div>
    ${owner && s.rooms.length === 0
      ? html`<p class="muted">No rooms yet: add them on the <a href="#/household">Household</a> page.</p>`
      : nothing}
    ${owner
      ? html`<p class="muted">
          A personal device's data is its person's: others review it only if they share it, and only they give it back to
          the household.
        </p>`
      : nothing}
    ${mine ? sharing(s, a, d) : nothing}
  </section>`;
}

/** How long a share lasts, as offered (hours; null: until its member stops it). */
const SHARE_HOURS: readonly { value: string; label: string }[] = [
  { value: "24", label: "1 day" },
  { value: "168", label: "7 days" },
  { value: "", label: "until I stop" },
];

/** The signed-in member's own device: whom they share what it sends with, and sharing it with
 *  someone else. Only they see this (the hub refuses anyone else's share). */
function sharing(s: AppState, a: Actions, d: Device): TemplateResult {
  const me = s.me?.member;
  const busy = s.familyBusy.has(`share:${d.id}`);
  const error = s.shareError?.device === d.id ? s.shareError.message : "";
  const grants = s.household?.grants;
  const shares = sharesGiven(grants ?? [], d.id, me?.id).sort((x, y) => x.member_name.localeCompare(y.member_name));
  // Guests never see what devices send, whatever is shared with them.
  const others = s.members.filter((m) => m.id !== me?.id && m.role !== "guest").sort((x, y) => x.name.localeCompare(y.name));
  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    if (busy) return;
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const member = String(data.get("member") ?? "");
    const hours = String(data.get("hours") ?? "");
    if (!member) return;
    void a.family.share(d, member, hours === "" ? null : Number(hours));
  };
  let list: TemplateResult;
  if (s.household?.error && !grants) list = html`<p class="warn-text">${s.household.error.message}</p>`;
  else if (!grants) list = html`<p class="loading" aria-busy="true">Loading whom it is shared with…</p>`;
  else if (shares.length === 0) list = html`<p data-testid="not-shared">Only you see what ${d.name} sends.</p>`;
  else
    list = html`<ul class="grants plain" data-testid="shares" aria-label="Whom ${d.name} is shared with">
      ${shares.map((g) => shareRow(s, a, d, g, busy))}
    </ul>`;
  return html`<div class="sharing" data-testid="sharing" aria-busy=${busy ? "true" : "false"}>
    <h3 id="h-sharing">Who else sees what it sends</h3>
    ${list}
    ${me?.role === "child"
      ? html`<p class="muted small">The home's owners and adults may look at it too, as your parents; every look is recorded.</p>`
      : nothing}
    ${others.length === 0
      ? html`<p class="muted">There is no one else in the household to share it with.</p>`
      : html`<form class="inline-form share-form" data-testid="share-form" aria-labelledby="h-sharing" @submit=${submit}>
          <label
            >Share what it sends with
            <select name="member" data-testid="share-member">
              ${others.map((m) => html`<option value=${m.id}>${m.name}</option>`)}
            </select></label
          >
          <label
            >for
            <select name="hours" data-testid="share-hours">
              ${SHARE_HOURS.map((h) => html`<option value=${h.value}>${h.label}</option>`)}
            </select></label
          >
          <button type="submit" class="btn primary" data-testid="share" aria-disabled=${busy ? "true" : "false"}>Share</button>
          <p class="warn-text" data-testid="share-error" role="alert" tabindex="-1">${error || nothing}</p>
        </form>`}
  </div>`;
}

/** "Noah can see what Kim's watch sends, until 3 Dec 18:00", with its Stop sharing button. */
function shareRow(s: AppState, a: Actions, d: Device, g: GrantView, busy: boolean): TemplateResult {
  const end = g.grant.expires_at;
  const words = g.expired
    ? `${g.member_name} could see what ${d.name} sends until ${end === null ? "" : untilLabel(end, s.now)}; that has ended.`
    : `${g.member_name} can see what ${d.name} sends, ${end === null ? "until you stop sharing" : `until ${untilLabel(end, s.now)}`}.`;
  return html`<li class="grant" data-testid="share-row" data-member-id=${g.grant.member} data-expired=${g.expired ? "true" : "false"}>
    <span class="grant-words">${words}</span>
    <button
      type="button"
      class="btn quiet small danger"
      data-testid="unshare"
      aria-label=${g.expired ? `Remove the ended share with ${g.member_name}` : `Stop sharing ${d.name} with ${g.member_name}`}
      aria-disabled=${busy ? "true" : "false"}
      @click=${() => !busy && a.family.unshare(d, g)}
    >
      ${g.expired ? "Remove" : "Stop sharing"}
    </button>
  </li>`;
}

function historyEntry(s: AppState, h: StateChange): TemplateResult {
  const now = s.now;
  // The hub's own owner and Hearth keep their short names; other members are named.
  const by = h.actor === "owner" || h.actor === "hearth" ? h.actor : memberName(s.members, h.actor);
  return html`<li class="history-entry" data-testid="history-entry" data-origin=${h.origin} data-to=${h.to} data-actor=${h.actor}>
    <span class="change">
      ${h.from ? html`${STATE_LABELS[h.from]} → ` : html`Discovered as `}<strong>${STATE_LABELS[h.to].toLowerCase()}</strong>
    </span>
    <span class="who" title="${ACTOR_LABELS[h.actor] ?? by} via ${originLabel(h.origin)}">by ${by} via <span class="origin">${h.origin}</span></span>
    <span class="at">${when(h.at, now)}</span>
  </li>`;
}
