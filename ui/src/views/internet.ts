// The device page's Internet section: how far the device may reach beyond the home (one of three
// levels), how far Hearth really holds it to that, the names waiting for a person, every name it
// looked up through Hearth's DNS with what happened and why, and its rules.

import { html, nothing, type TemplateResult } from "lit-html";
import { live } from "lit-html/directives/live.js";
import type { Device } from "../generated/Device";
import type { DestinationRuleView } from "../generated/DestinationRuleView";
import type { DestinationView } from "../generated/DestinationView";
import type { NetworkView } from "../generated/NetworkView";
import { plural, times } from "../model";
import { ACTION_LABELS, becauseWords, enforcement, LEVELS, levelLabel, SOURCE_LABELS } from "../network-model";
import type { Actions, AppState, DetailState } from "../state";
import { when } from "./parts";

export function internetSection(s: AppState, a: Actions, d: Device, detail: DetailState): TemplateResult {
  return html`<section class="panel internet" aria-labelledby="h-internet" data-testid="internet">
    <h2 id="h-internet" tabindex="-1">Internet</h2>
    ${detail.networkError
      ? html`<p class="warn-text" role="alert">${detail.networkError.message}</p>`
      : detail.network
        ? loaded(s, a, d, detail.network)
        : html`<p class="loading" aria-busy="true">Loading…</p>`}
  </section>`;
}

function loaded(s: AppState, a: Actions, d: Device, v: NetworkView): TemplateResult {
  const busy = s.busy.has(d.id);
  return html`${levelChoice(a, d, v, busy, s.now)} ${waiting(a, d, v, busy)} ${talksTo(s, a, d, v, busy)} ${rules(s, a, d, v, busy)}`;
}

/** The three levels as one radio group (arrow keys move between them). Until a person chooses,
 *  none is ticked: the note says which default applies, and ticking any one chooses it. */
function levelChoice(a: Actions, d: Device, v: NetworkView, busy: boolean, now: number): TemplateResult {
  const held = enforcement(v.enforcement, v.dns_gate);
  const group = `internet-level-${d.id}`;
  return html`<div class="level-block">
    <fieldset class="levels" data-testid="internet-level" aria-describedby="level-notes">
      <legend>How far ${d.name} may reach beyond the home</legend>
      ${LEVELS.map(
        (l) => html`<label class="level" data-level=${l.level}>
          <input
            type="radio"
            name=${group}
            value=${l.level}
            .checked=${live(v.level_chosen && v.level === l.level)}
            @change=${() => a.setInternetLevel(d, l.level)}
          />
          <span>
            <strong>${l.label}</strong>${!v.level_chosen && v.level === l.level ? html` <span class="tag">Hearth's default</span>` : nothing}
            <span class="level-meaning">${l.meaning}</span>
          </span>
        </label>`,
      )}
    </fieldset>
    <div id="level-notes" class="level-notes">
      <p class="enforcement" data-testid="enforcement" data-enforcement=${v.dns_gate ? v.enforcement : "gate_off"} data-grade=${held.grade}>
        <span aria-hidden="true">${held.grade === "full" ? "✓" : "⚠"}</span> ${held.text}${v.last_query !== null && v.dns_gate
          ? html`<span class="muted"> · last look-up ${when(v.last_query, now)}</span>`
          : nothing}
      </p>
      ${d.state === "blocked"
        ? html`<p class="warn-text" data-testid="blocked-note">${d.name} is blocked: Hearth answers none of its look-ups, whatever the level.</p>`
        : nothing}
      ${v.level_chosen
        ? nothing
        : html`<p class="muted" data-testid="level-default">
            Nobody has chosen yet, so Hearth's default applies: ${levelLabel(v.level).toLowerCase()}.
          </p>`}
      ${v.learning
        ? html`<p data-testid="learning">
            <strong>Learning.</strong> While it is new, the names it looks up are let through and listed here for you to decide.
            Choosing a level ends this.
          </p>`
        : nothing}
    </div>
    ${busy ? html`<span class="sr-only" role="status">Saving…</span>` : nothing}
  </div>`;
}

function waiting(a: Actions, d: Device, v: NetworkView, busy: boolean): TemplateResult | typeof nothing {
  const names = v.destinations.filter((x) => x.waiting);
  if (names.length === 0) return nothing;
  return html`<div class="proposals" role="group" aria-labelledby="h-waiting" data-testid="waiting">
    <h3 id="h-waiting">Waiting for you</h3>
    <p>${d.name} looked up ${plural(names.length, "name", "names")} nobody has decided about:</p>
    <ul class="plain">
      ${names.map(
        (x) => html`<li data-testid="waiting-name" data-name=${x.name}>
          <code>${x.name}</code>
          <span class="muted">(${times(x.queries)}, ${ACTION_LABELS[x.last_action]})</span>
          <button type="button" class="btn primary small" data-testid="allow-domain" aria-disabled=${busy} aria-label="Allow ${x.name}"
            @click=${() => !busy && void a.setDomain(d, x.name, "allow")}>Allow</button>
          <button type="button" class="btn small" aria-disabled=${busy} aria-label="Deny ${x.name}"
            @click=${() => !busy && void a.setDomain(d, x.name, "deny")}>Deny</button>
        </li>`,
      )}
    </ul>
    ${names.length > 1
      ? html`<p>
          <button type="button" class="btn" data-testid="allow-waiting" aria-disabled=${busy} @click=${() => !busy && a.allowWaiting(d)}>
            Allow all ${names.length}
          </button>
        </p>`
      : nothing}
  </div>`;
}

function talksTo(s: AppState, a: Actions, d: Device, v: NetworkView, busy: boolean): TemplateResult {
  return html`<h3>Talks to</h3>
    ${v.destinations.length === 0
      ? html`<p class="muted" data-testid="destinations-empty">It has not looked anything up through Hearth yet.</p>`
      : html`<div class="table-wrap">
          <table class="txt destinations cards" data-testid="destinations">
            <caption>
              Names ${d.name} looked up through Hearth's DNS
            </caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">First seen</th>
                <th scope="col">Last seen</th>
                <th scope="col">How often</th>
                <th scope="col">Last time</th>
                <th scope="col">Because</th>
                <th scope="col"><span class="sr-only">Change</span></th>
              </tr>
            </thead>
            <tbody>
              ${v.destinations.map((x) => destinationRow(s, a, d, x, busy))}
            </tbody>
          </table>
        </div>`}`;
}

function destinationRow(s: AppState, a: Actions, d: Device, x: DestinationView, busy: boolean): TemplateResult {
  const refused = x.last_action !== "forward";
  return html`<tr data-testid="destination" data-name=${x.name} data-action=${x.last_action} data-waiting=${x.waiting ? "true" : "false"}>
    <th scope="row"><code title=${x.answers.length ? `Last answer: ${x.answers.join(", ")}` : nothing}>${x.name}</code></th>
    <td data-label="First seen">${when(x.first_seen, s.now)}</td>
    <td data-label="Last seen">${when(x.last_seen, s.now)}</td>
    <td data-label="How often">${times(x.queries)}${x.refused > 0 && x.refused < x.queries ? html` <span class="muted">(${x.refused} refused)</span>` : nothing}</td>
    <td data-label="Last time" class=${refused ? "refused" : "allowed"} data-testid="outcome">${ACTION_LABELS[x.last_action]}</td>
    <td data-label="Because" data-testid="because">${becauseWords(x.because)}</td>
    <td class="row-actions">
      <button type="button" class="btn quiet small" data-testid="allow-domain" aria-disabled=${busy} aria-label="Allow ${x.name}"
        @click=${() => !busy && void a.setDomain(d, x.name, "allow")}>Allow</button>
      <button type="button" class="btn quiet small danger" data-testid="deny-domain" aria-disabled=${busy} aria-label="Deny ${x.name}"
        @click=${() => !busy && void a.setDomain(d, x.name, "deny")}>Deny</button>
    </td>
  </tr>`;
}

function rules(s: AppState, a: Actions, d: Device, v: NetworkView, busy: boolean): TemplateResult {
  return html`<h3>Its rules</h3>
    ${v.rules.length
      ? html`<ul class="plain destination-rules" data-testid="destination-rules">
          ${v.rules.map((r) => ruleItem(s, a, d, r, busy))}
        </ul>`
      : html`<p class="muted" data-testid="no-destination-rules">None yet: allow or deny a name above, or add one here.</p>`}
    ${ruleForm(a, d, busy)}`;
}

function ruleItem(s: AppState, a: Actions, d: Device, r: DestinationRuleView, busy: boolean): TemplateResult {
  return html`<li data-testid="destination-rule" data-domain=${r.domain} data-verdict=${r.verdict}>
    <span class=${r.verdict === "allow" ? "allowed" : "refused"}>${r.verdict === "allow" ? "Allowed" : "Denied"}</span>
    <code>${r.domain}</code> <span class="muted">and the names under it · ${SOURCE_LABELS[r.source]}, ${when(r.since, s.now)}</span>
    <button type="button" class="btn quiet small" data-testid="remove-rule" aria-disabled=${busy} aria-label="Remove the rule for ${r.domain}"
      @click=${() => !busy && void a.setDomain(d, r.domain, "remove")}>Remove</button>
  </li>`;
}

/** A name allowed or denied before the device asks for it (`vendor.com` covers `eu.vendor.com`). */
function ruleForm(a: Actions, d: Device, busy: boolean): TemplateResult {
  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const domain = String(new FormData(form).get("domain") ?? "").trim();
    const choice = (e.submitter as HTMLButtonElement | null)?.value === "deny" ? "deny" : "allow";
    if (!domain || busy) return;
    void a.setDomain(d, domain, choice).then((done) => done && form.reset());
  };
  return html`<form class="rule-form" data-testid="domain-form" @submit=${submit}>
    <label>A name
      <input name="domain" required maxlength="253" placeholder="vendor.com" autocomplete="off" spellcheck="false" />
    </label>
    <button type="submit" class="btn" value="allow">Allow</button>
    <button type="submit" class="btn quiet" value="deny">Deny</button>
    <p class="muted">A name covers the names under it: <code>vendor.com</code> also allows <code>eu.vendor.com</code>.</p>
  </form>`;
}
