// The device page: everything Hearth knows about one device, and the same decisions as the list.

import { html, nothing, type TemplateResult } from "lit-html";
import type { Device } from "../generated/Device";
import type { DeviceDetail } from "../generated/DeviceDetail";
import type { Service } from "../generated/Service";
import type { StateChange } from "../generated/StateChange";
import { ACTOR_LABELS, kindLabel, originLabel, plural, STATE_LABELS, STATE_MEANING, vendorModel } from "../model";
import type { Actions, AppState, DetailState } from "../state";
import { brokerSection } from "./broker";
import { internetSection } from "./internet";
import { reviewSection } from "./review";
import { mergeQuestions } from "./identity";
import { decisionButtons, kindBadge, onlineTag, stateBadge, when } from "./parts";

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
  const what = vendorModel(d);
  const services = [...d.services].sort((x, y) => Number(y.present) - Number(x.present) || x.type.localeCompare(y.type));
  return html`<article class="page device-page" data-testid="device-page" data-device-id=${d.id} aria-labelledby="page-title">
    ${back}
    <header class="device-head">
      ${kindBadge(d, true)}
      <div class="device-title">
        <h1 id="page-title" tabindex="-1">${d.name}</h1>
        <p class="device-what">${kindLabel(d.kind)}${what ? html` · ${what}` : nothing}</p>
      </div>
      <div class="device-status">${stateBadge(d.state)} ${onlineTag(d)}</div>
    </header>

    ${mergeQuestions(s, a, d, detail.merge_proposals)}

    <div class="panel decision" data-state=${d.state}>
      <p>${STATE_MEANING[d.state]}</p>
      ${decisionButtons(d, s, a)}
    </div>

    ${reviewSection(s, a, d, page)} ${internetSection(s, a, d, page)} ${brokerSection(s, a, d, page)}

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
        <dd>${d.addresses.length ? d.addresses.map((ip) => html`<code>${ip}</code> `) : html`<span class="muted">none announced</span>`}</dd>
        <dt>First seen</dt>
        <dd>${when(d.first_seen, s.now)}</dd>
        <dt>Last seen</dt>
        <dd>${when(d.last_seen, s.now)} · ${d.online ? "online" : "offline"}</dd>
      </dl>
    </section>

    <section class="panel" aria-labelledby="h-services">
      <h2 id="h-services">Services <span class="count">${services.length}</span></h2>
      <p class="muted">What the device announced over mDNS, from its latest sightings.</p>
      ${services.length ? services.map((svc) => service(svc, s.now)) : html`<p class="muted">No services recorded.</p>`}
    </section>

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
            ${[...detail.history].reverse().map((h) => historyEntry(h, s.now))}
          </ol>`
        : html`<p class="muted">No changes recorded.</p>`}
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

function historyEntry(h: StateChange, now: number): TemplateResult {
  return html`<li class="history-entry" data-testid="history-entry" data-origin=${h.origin} data-to=${h.to} data-actor=${h.actor}>
    <span class="change">
      ${h.from ? html`${STATE_LABELS[h.from]} → ` : html`Discovered as `}<strong>${STATE_LABELS[h.to].toLowerCase()}</strong>
    </span>
    <span class="who" title="${ACTOR_LABELS[h.actor] ?? h.actor} via ${originLabel(h.origin)}">by ${h.actor} via <span class="origin">${h.origin}</span></span>
    <span class="at">${when(h.at, now)}</span>
  </li>`;
}
