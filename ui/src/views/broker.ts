// The device page's MQTT section: its credential, live connections, what it describes, manifest (what it may
// publish and subscribe to, and what it tried) and the gate's recent decisions.

import { html, nothing, type TemplateResult } from "lit-html";
import type { BrokerView } from "../generated/BrokerView";
import type { DecisionView } from "../generated/DecisionView";
import type { Device } from "../generated/Device";
import type { Direction } from "../generated/Direction";
import type { RuleView } from "../generated/RuleView";
import { DROP_REASONS, plural } from "../model";
import type { Actions, AppState, DetailState } from "../state";
import { describedSection } from "./described";
import { when } from "./parts";


export function brokerSection(s: AppState, a: Actions, d: Device, detail: DetailState): TemplateResult {
  const view = detail.broker;
  return html`<section class="panel" aria-labelledby="h-mqtt" data-testid="broker">
    <h2 id="h-mqtt">MQTT</h2>
    ${detail.brokerError
      ? html`<p class="warn-text" role="alert">${detail.brokerError.message}</p>`
      : view
        ? loaded(s, a, d, view)
        : html`<p class="loading" aria-busy="true">Loading…</p>`}
  </section>`;
}

function loaded(s: AppState, a: Actions, d: Device, v: BrokerView): TemplateResult {
  const busy = s.busy.has(d.id);
  return html`${credential(s, a, d, v, busy)} ${sessions(s, v)} ${describedSection(v)} ${manifest(a, d, v, busy)} ${decisions(s, v)}`;
}

function credential(s: AppState, a: Actions, d: Device, v: BrokerView, busy: boolean): TemplateResult {
  const c = v.credential;
  return html`<div class="broker-block" data-testid="credential">
    <h3>Credential</h3>
    ${v.anonymous
      ? html`<p class="warn-text" data-testid="anonymous">
            Connects without a credential, as client id <code>${v.anonymous.client_id}</code>${v.anonymous.address
              ? html` from <code>${v.anonymous.address}</code>`
              : nothing}. Give it a credential if its firmware can use one.
          </p>
          <button type="button" class="btn quiet" data-testid="anonymous-off" aria-disabled=${busy} @click=${() => !busy && a.setAnonymous(d, null)}>
            Require its credential
          </button>`
      : nothing}
    ${c
      ? html`<p>
            Username <code data-testid="username">${c.username}</code>, issued ${when(c.issued_at, s.now)}${c.client_id
              ? html`, bound to client id <code>${c.client_id}</code>`
              : nothing}. Devices connect to <code>${v.broker}</code>${v.broker_tls
              ? html`, or over TLS to <code data-testid="broker-tls">${v.broker_tls}</code>`
              : nothing}.
          </p>
          ${v.ca_pem ? caDownload(v.ca_pem) : nothing}
          <div class="actions">
            <button type="button" class="btn" data-testid="rotate" aria-disabled=${busy} @click=${(e: Event) => !busy && a.askCredential(d, "rotate", e.currentTarget as HTMLElement)}>
              New secret…
            </button>
            <button type="button" class="btn quiet danger" data-testid="revoke" aria-disabled=${busy} @click=${(e: Event) => !busy && a.askCredential(d, "revoke", e.currentTarget as HTMLElement)}>
              Revoke…
            </button>
          </div>
          <p class="muted">Either disconnects the device at once. Hearth keeps only a hash of the secret.</p>
          ${bindForm(a, d, c.client_id, busy)}`
      : html`<p>This device has no MQTT credential, so it cannot connect to Hearth's broker.</p>
          <button type="button" class="btn primary" data-testid="issue" aria-disabled=${busy} @click=${() => !busy && a.credential(d, "rotate")}>
            Issue a credential
          </button>`}
    ${v.anonymous ? nothing : anonymousForm(a, d, busy)}
  </div>`;
}

/** For firmware that cannot use a credential: let it in without one, pinned to the client id it
 *  uses and, better, the address it connects from. Tucked away: it is the exception. */
function anonymousForm(a: Actions, d: Device, busy: boolean): TemplateResult {
  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const clientId = String(form.get("client_id") ?? "").trim();
    const address = String(form.get("address") ?? "").trim();
    if (clientId && !busy) a.setAnonymous(d, { client_id: clientId, address: address || null });
  };
  return html`<details class="anonymous" data-testid="anonymous-form">
    <summary>Its firmware cannot use a credential?</summary>
    <p class="muted">
      Hearth can let it in without one, but only with this client id and, if you give it, only from this address. Anyone who
      knows the client id could pose as it otherwise.
    </p>
    <form class="rule-form" @submit=${submit}>
      <label>Client id <input name="client_id" required maxlength="256" placeholder="DVES_A1B2C3" autocomplete="off" spellcheck="false" /></label>
      <label>From address (optional) <input name="address" maxlength="45" placeholder="192.168.1.23" autocomplete="off" spellcheck="false" /></label>
      <button type="submit" class="btn">Let it in without a credential</button>
    </form>
  </details>`;
}

/** Hearth's CA certificate, to install on a device that connects over TLS. A data: link works
 *  the same in the browser and in the desktop window, and needs no extra request. */
function caDownload(pem: string): TemplateResult {
  return html`<p>
    <a class="btn quiet" data-testid="ca-download" download="hearth-ca.pem" href=${`data:application/x-pem-file;charset=utf-8,${encodeURIComponent(pem)}`}
      >Download Hearth's CA certificate</a
    >
    <span class="muted">Install it on devices that connect over TLS, so they can tell the hub is really Hearth.</span>
  </p>`;
}

/** Pin the credential to the client id the device uses, so no other client can take its place. */
function bindForm(a: Actions, d: Device, bound: string | null, busy: boolean): TemplateResult {
  if (bound) {
    return html`<button type="button" class="btn quiet" data-testid="unbind" aria-disabled=${busy} @click=${() => !busy && a.bindClientId(d, null)}>
      Allow any client id
    </button>`;
  }
  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    const clientId = String(new FormData(e.currentTarget as HTMLFormElement).get("client_id") ?? "").trim();
    if (clientId && !busy) a.bindClientId(d, clientId);
  };
  return html`<form class="rule-form" data-testid="bind-form" @submit=${submit}>
    <label>Only this client id may use it
      <input name="client_id" required maxlength="256" placeholder="DVES_A1B2C3" autocomplete="off" spellcheck="false" />
    </label>
    <button type="submit" class="btn">Bind</button>
  </form>`;
}

function sessions(s: AppState, v: BrokerView): TemplateResult {
  return html`<div class="broker-block" data-testid="sessions">
    <h3>Connections</h3>
    ${v.sessions.length
      ? html`<ul class="plain">
          ${v.sessions.map(
            (c) => html`<li data-testid="session">
              <span class="online" data-online="true">Connected</span> client <code>${c.client_id}</code> from
              <code>${c.remote ?? "?"}</code>, MQTT ${c.protocol}, since ${when(c.connected_at, s.now)}
            </li>`,
          )}
        </ul>`
      : html`<p class="muted">Not connected now.</p>`}
  </div>`;
}

function manifest(a: Actions, d: Device, v: BrokerView, busy: boolean): TemplateResult {
  const learned = v.rules.filter((r) => r.status === "learned");
  const decided = v.rules.filter((r) => r.status !== "learned");
  return html`<div class="broker-block" data-testid="manifest">
    <h3>Topics</h3>
    ${v.suggestions.map(
      (s) => html`<div class="proposals" data-testid="suggestion" data-firmware=${s.firmware}>
        <p>
          <strong>${d.name}</strong> ${s.evidence === "mdns" ? "announces itself as" : "talks like"} <strong>${s.firmware}</strong> (as
          <code>${s.prefix}</code>). Its usual topics:
          ${s.rules.map((r) => html`<code>${r.direction} ${r.pattern}</code> `)}
        </p>
        <button type="button" class="btn primary" aria-disabled=${busy} @click=${() => !busy && a.applySuggestion(d, s)}>
          Allow ${s.firmware}'s usual topics
        </button>
      </div>`,
    )}
    ${learned.length
      ? html`<div class="proposals" role="group" aria-label="Topics ${d.name} tried">
          <p><strong>${d.name}</strong> tried ${plural(learned.length, "topic", "topics")} its manifest does not allow:</p>
          <ul class="plain">
            ${learned.map((r) => proposal(a, d, r, busy))}
          </ul>
        </div>`
      : nothing}
    ${decided.length
      ? html`<div class="table-wrap">
          <table data-testid="rules">
            <caption>
              Manifest: what ${d.name} may do
            </caption>
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Direction</th>
                <th scope="col">Topic pattern</th>
                <th scope="col"><span class="sr-only">Change</span></th>
              </tr>
            </thead>
            <tbody>
              ${decided.map(
                (r) => html`<tr data-testid="rule" data-status=${r.status}>
                  <td>${r.status === "allowed" ? "Allowed" : "Denied"}</td>
                  <td>${r.direction}</td>
                  <td><code>${r.pattern}</code></td>
                  <td>
                    <button
                      type="button"
                      class="btn quiet"
                      aria-disabled=${busy}
                      aria-label="${r.status === "allowed" ? "Deny" : "Allow"} ${r.direction} ${r.pattern}"
                      @click=${() => !busy && void a.setTopicRule(d, r.direction, r.pattern, r.status === "allowed" ? "deny" : "allow")}
                    >
                      ${r.status === "allowed" ? "Deny" : "Allow"}
                    </button>
                  </td>
                </tr>`,
              )}
            </tbody>
          </table>
        </div>`
      : html`<p class="muted" data-testid="no-rules">
          No rules yet: the device may connect, but neither publish nor subscribe. What it tries appears above, for you to allow in one step.
        </p>`}
    ${ruleForm(a, d, busy)}
  </div>`;
}

function proposal(a: Actions, d: Device, r: RuleView, busy: boolean): TemplateResult {
  const verb = r.direction === "publish" ? "publish to" : "subscribe to";
  return html`<li data-testid="proposal" data-pattern=${r.pattern}>
    wants to ${verb} <code>${r.pattern}</code> <span class="muted">(${plural(Number(r.tries), "try", "tries")})</span>
    <button type="button" class="btn primary" aria-disabled=${busy} aria-label="Allow ${verb} ${r.pattern}"
      @click=${() => !busy && void a.setTopicRule(d, r.direction, r.pattern, "allow")}>Allow</button>
    <button type="button" class="btn" aria-disabled=${busy} aria-label="Deny ${verb} ${r.pattern}"
      @click=${() => !busy && void a.setTopicRule(d, r.direction, r.pattern, "deny")}>Deny</button>
  </li>`;
}

function ruleForm(a: Actions, d: Device, busy: boolean): TemplateResult {
  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const pattern = String(data.get("pattern") ?? "").trim();
    const rule = (e.submitter as HTMLButtonElement | null)?.value === "deny" ? "deny" : "allow";
    if (!pattern || busy) return;
    void a.setTopicRule(d, String(data.get("direction")) as Direction, pattern, rule).then((done) => done && form.reset());
  };
  return html`<form class="rule-form" data-testid="rule-form" @submit=${submit}>
    <label>Direction
      <select name="direction"><option value="publish">publish</option><option value="subscribe">subscribe</option></select>
    </label>
    <label>Topic pattern
      <input name="pattern" required placeholder="tele/plug1/#" autocomplete="off" spellcheck="false" />
    </label>
    <button type="submit" class="btn" value="allow">Allow</button>
    <button type="submit" class="btn quiet" value="deny">Deny</button>
    <p class="muted">Use <code>+</code> for one level and <code>#</code> for the rest. A denial wins over an allowance.</p>
  </form>`;
}

function decisions(s: AppState, v: BrokerView): TemplateResult {
  return html`<div class="broker-block" data-testid="decisions">
    <h3>Recent activity</h3>
    ${v.recent.length
      ? html`<div class="table-wrap">
          <table>
            <caption>
              The gate's last ${plural(v.recent.length, "decision", "decisions")}, newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">What</th>
                <th scope="col">Topic</th>
                <th scope="col">Size</th>
                <th scope="col">Decision</th>
              </tr>
            </thead>
            <tbody>
              ${v.recent.map((r) => decisionRow(s, r))}
            </tbody>
          </table>
        </div>`
      : html`<p class="muted">Nothing yet: connections, subscriptions and messages appear here.</p>`}
  </div>`;
}

function decisionRow(s: AppState, r: DecisionView): TemplateResult {
  const refused = r.decision.decision === "drop";
  const reason = r.decision.decision === "drop" ? DROP_REASONS[r.decision.detail] : "";
  return html`<tr data-testid="decision" data-decision=${r.decision.decision}>
    <td>${when(r.at, s.now)}</td>
    <td>${r.action}</td>
    <td><code>${r.topic || "—"}</code></td>
    <td>${r.action === "publish" ? `${r.bytes} B` : ""}</td>
    <td class=${refused ? "refused" : "allowed"}>${refused ? html`Refused: ${reason}` : "Allowed"}</td>
  </tr>`;
}
