// The device page's MQTT section: its credential, connections (live sessions, who holds a client id
// it uses, its connection attempts, what it retains), what it describes, manifest (what it may
// publish and subscribe to, and what it tried) and the gate's recent decisions.

import { html, nothing, type TemplateResult } from "lit-html";
import type { BrokerView } from "../generated/BrokerView";
import type { ClientIdHolder } from "../generated/ClientIdHolder";
import type { ConnectCount } from "../generated/ConnectCount";
import type { DecisionView } from "../generated/DecisionView";
import type { Device } from "../generated/Device";
import type { Direction } from "../generated/Direction";
import type { RuleView } from "../generated/RuleView";
import { clockTime, DROP_REASONS, grouped, plural, times } from "../model";
import { size } from "../review-model";
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
  return html`${credential(s, a, d, v, busy)} ${connections(s, a, d, v, busy)} ${describedSection(a, d, v, busy)} ${manifest(a, d, v, busy)}
  ${decisions(s, v)}`;
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

/** Refused attempts listed at most (most recent first); an address flooding the hub with new
 *  client ids is counted in rows of its own, and the page must stay short. */
const ATTEMPTS_SHOWN = 8;

function connections(s: AppState, a: Actions, d: Device, v: BrokerView, busy: boolean): TemplateResult {
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
    ${v.client_id_holders.map((h) => holder(a, d, v, h, busy))} ${attempts(s, v)} ${retained(v)} ${waiting(v)}
  </div>`;
}

/** Another client holds a client id this device uses: name it, and say how to take it back. */
function holder(a: Actions, d: Device, v: BrokerView, h: ClientIdHolder, busy: boolean): TemplateResult {
  const who = h.device_id
    ? html`<a href=${`#/devices/${encodeURIComponent(h.device_id)}`}>${h.name ?? h.device_id}</a>`
    : html`a client Hearth knows no device for`;
  const state = h.connected ? "connected now" : "not connected, its session kept for its return";
  const holderName = h.name ?? "it";
  const c = v.credential;
  let remedy: TemplateResult | typeof nothing = nothing;
  if (c && c.client_id !== h.client_id) {
    remedy = html`<p>
      <button type="button" class="btn" data-testid="take-client-id" aria-disabled=${busy} @click=${() => !busy && a.bindClientId(d, h.client_id)}>
        Bind <code>${h.client_id}</code> to ${d.name}
      </button>
      <span class="muted"
        >Binding the client id to this device takes it back at once: ${holderName} is put out, and only ${d.name}'s credential may use it
        from then on. ${d.name} is disconnected too, and reconnects with it.</span
      >
    </p>`;
  } else if (!c && !v.anonymous) {
    remedy = html`<p class="muted">Issue ${d.name} a credential and bind it to this client id to take it back.</p>`;
  }
  return html`<div class="attention" data-testid="client-id-holder" data-client-id=${h.client_id}>
    <p>Client id <code>${h.client_id}</code> is in use by ${who} (${state}), so ${d.name} cannot connect with it.</p>
    ${remedy}
  </div>`;
}

/** Its connection attempts: each refused kind on a line of its own, the accepted ones in one.
 *  Hearth files the counts about once a second, so a device that has just connected may have a
 *  session and no count yet: then nothing is said rather than "none". */
function attempts(s: AppState, v: BrokerView): TemplateResult | typeof nothing {
  const counts = v.connections;
  if (counts.length === 0 && v.sessions.length > 0) return nothing;
  const refused = counts.filter((c) => c.refused !== null);
  const accepted = counts.filter((c) => c.refused === null);
  const hidden = refused.length - ATTEMPTS_SHOWN;
  const at = (ms: number) => html`<time datetime=${new Date(ms).toISOString()}>${clockTime(ms, s.now)}</time>`;
  return html`<h4>Connection attempts</h4>
    ${counts.length === 0
      ? html`<p class="muted" data-testid="no-attempts">None recorded yet. Each time the device tries to connect, Hearth counts it here, by address and outcome.</p>`
      : html`<ul class="plain attempts" data-testid="attempts">
          ${refused.slice(0, ATTEMPTS_SHOWN).map(
            (c) => html`<li data-testid="attempt" data-refused=${c.refused ?? ""}>
              <span class="refused">Refused</span> ${times(Number(c.count))} ${c.address ? html`from <code>${c.address}</code>` : "from an unknown address"}
              (${c.refused ? DROP_REASONS[c.refused] : ""}), last ${at(c.last_at)}
              <span class="muted">· client id <code>${c.client_id}</code></span>
            </li>`,
          )}
          ${hidden > 0 ? html`<li class="muted">And ${plural(hidden, "older kind", "older kinds")} of refusal.</li>` : nothing}
          ${accepted.length ? acceptedLine(accepted, at) : nothing}
        </ul>`}`;
}

function acceptedLine(accepted: readonly ConnectCount[], at: (ms: number) => TemplateResult): TemplateResult {
  const total = accepted.reduce((n, c) => n + Number(c.count), 0);
  const last = Math.max(...accepted.map((c) => c.last_at));
  const addresses = [...new Set(accepted.map((c) => c.address ?? "an unknown address"))];
  return html`<li data-testid="attempts-accepted">
    Connected ${times(total)} from ${addresses.map((ip, i) => html`${i > 0 ? ", " : ""}<code>${ip}</code>`)}, last ${at(last)}
  </li>`;
}

/** What the broker keeps of its messages for new subscribers (none: not worth a line). */
function retained(v: BrokerView): TemplateResult | typeof nothing {
  const { messages, bytes, refused } = v.retained;
  if (Number(messages) === 0 && Number(refused) === 0) return nothing;
  const kept =
    Number(messages) === 0
      ? html`Keeps no retained messages for new subscribers.`
      : // Counted as the limit counts them: their bytes and each level of their topics.
        html`Keeps ${grouped(Number(messages))} retained ${Number(messages) === 1 ? "message" : "messages"} for new subscribers, counted as
        ${size(Number(bytes))} of its share.`;
  return html`<p data-testid="retained">
    ${kept}${Number(refused) > 0
      ? html` ${grouped(Number(refused))} more ${Number(refused) === 1 ? "was" : "were"} delivered but not kept: its limit was reached.`
      : nothing}
  </p>`;
}

/** What the broker keeps for it while it is away or slow, and what it had to drop. */
function waiting(v: BrokerView): TemplateResult | typeof nothing {
  const { offline_sessions, messages, bytes, dropped, max_messages, max_bytes } = v.waiting;
  const count = (n: number, one: string, many: string) => `${grouped(n)} ${n === 1 ? one : many}`;
  const kept =
    Number(offline_sessions) > 0
      ? html`Away: Hearth keeps its ${Number(offline_sessions) === 1 ? "session" : "sessions"} for its return, with
        ${count(Number(messages), "message", "messages")} (${size(Number(bytes))}) waiting.`
      : Number(messages) > 0
        ? html`${count(Number(messages), "message waits", "messages wait")} (${size(Number(bytes))}) to be sent to it.`
        : nothing;
  const lost =
    Number(dropped) > 0
      ? html` ${count(Number(dropped), "message", "messages")} to it ${Number(dropped) === 1 ? "was" : "were"} dropped since
        Hearth started: its queue was full (at most ${grouped(Number(max_messages))} messages or ${size(Number(max_bytes))}).`
      : nothing;
  if (kept === nothing && lost === nothing) return nothing;
  return html`<p data-testid="waiting">${kept}${lost}</p>`;
}

function manifest(a: Actions, d: Device, v: BrokerView, busy: boolean): TemplateResult {
  const learned = v.rules.filter((r) => r.status === "learned");
  const decided = v.rules.filter((r) => r.status !== "learned");
  return html`<div class="broker-block" data-testid="manifest">
    <h3 id="h-topics" tabindex="-1">Topics</h3>
    ${learned.length || v.suggestions.length
      ? html`<p class="muted">What it asks for is under <a href="#needs-you">Needs you</a> at the top of the page.</p>`
      : nothing}
    ${decided.length
      ? html`<div class="table-wrap">
          <table class="cards" data-testid="rules">
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
                  <td data-label="Rule">${r.status === "allowed" ? "Allowed" : "Denied"}</td>
                  <td data-label="Direction">${r.direction}</td>
                  <td data-label="Topic pattern"><code>${r.pattern}</code></td>
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

/** What the device asks for that waits for a person (the device page's Needs you box): the
 *  usual topics of the firmware it talks like, and each topic it tried. */
export function brokerRequests(s: AppState, a: Actions, d: Device, v: BrokerView): TemplateResult[] {
  const busy = s.busy.has(d.id);
  const learned = v.rules.filter((r) => r.status === "learned");
  const out = v.suggestions.map(
    (sg) => html`<div class="proposals" data-testid="suggestion" data-firmware=${sg.firmware}>
      <p>
        <strong>${d.name}</strong> ${sg.evidence === "mdns" ? "announces itself as" : "talks like"} <strong>${sg.firmware}</strong>.
        Allow what ${sg.firmware} usually sends and receives:
        ${sg.rules.map((r) => html`<code>${r.pattern}</code> (${r.direction === "publish" ? "sends" : "receives"}) `)}
      </p>
      <button type="button" class="btn primary" aria-disabled=${busy} @click=${() => !busy && a.applySuggestion(d, sg)}>
        Allow ${sg.firmware}'s usual messages
      </button>
    </div>`,
  );
  if (learned.length) {
    out.push(html`<div class="proposals" role="group" aria-label="Messages ${d.name} tried">
      <p><strong>${d.name}</strong> tried ${plural(learned.length, "kind of message", "kinds of message")} you have not allowed, so Hearth refused ${learned.length === 1 ? "it" : "them"}:</p>
      <ul class="plain">
        ${learned.map((r) => proposal(a, d, r, busy))}
      </ul>
    </div>`);
  }
  return out;
}

function proposal(a: Actions, d: Device, r: RuleView, busy: boolean): TemplateResult {
  const verb = r.direction === "publish" ? "send messages on" : "receive messages on";
  const act = r.direction === "publish" ? "sending on" : "receiving on";
  const allow = (e: Event) => {
    if (busy) return;
    // A topic of another device's, or one that reaches it: asked about first, never one click.
    if (r.concerns) a.askConfirm({ kind: "allow_topic", device: d, rule: r }, e.currentTarget as HTMLElement);
    else void a.setTopicRule(d, r.direction, r.pattern, "allow");
  };
  return html`<li data-testid="proposal" data-pattern=${r.pattern}>
    wants to ${verb} <code>${r.pattern}</code> <span class="muted">(${plural(Number(r.tries), "try", "tries")})</span>
    <button type="button" class="btn primary" aria-disabled=${busy} aria-label="Allow ${act} ${r.pattern}${r.concerns ? " (asks first)" : ""}"
      @click=${allow}>${r.concerns ? "Allow…" : "Allow"}</button>
    <button type="button" class="btn" aria-disabled=${busy} aria-label="Deny ${act} ${r.pattern}"
      @click=${() => !busy && void a.setTopicRule(d, r.direction, r.pattern, "deny")}>Deny</button>
    ${r.concerns ? concern(d, r) : nothing}
  </li>`;
}

/** Whose topic a learned rule is, in a sentence: a plain warning next to its Allow. */
function concern(d: Device, r: RuleView): TemplateResult | typeof nothing {
  const c = r.concerns;
  if (!c) return nothing;
  const other = html`<a href=${`#/devices/${encodeURIComponent(c.device_id)}`}>${c.name}</a>`;
  const what = c.owned
    ? r.direction === "publish"
      ? html`This is ${other}'s topic: allowing it lets ${d.name} speak for ${c.name}.`
      : html`This is ${other}'s topic: allowing it lets ${d.name} listen in on ${c.name}.`
    : r.direction === "publish"
      ? html`This reaches ${other}: it listens on this topic.`
      : html`This reaches ${other}: it publishes on this topic.`;
  return html`<p class="concern warn-text" data-testid="concern" data-owned=${c.owned}>${what}</p>`;
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
          <table class="cards">
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
    <td data-label="When">${when(r.at, s.now)}</td>
    <td data-label="What">${r.action}</td>
    <td data-label="Topic"><code>${r.topic || "—"}</code></td>
    <td data-label="Size">${r.action === "publish" ? `${r.bytes} B` : ""}</td>
    <td data-label="Decision" class=${refused ? "refused" : "allowed"}>${refused ? html`Refused: ${reason}` : "Allowed"}</td>
  </tr>`;
}
