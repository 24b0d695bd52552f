// Small pieces shared by the list and the device page.

import { html, nothing, type TemplateResult } from "lit-html";
import type { Device } from "../generated/Device";
import type { DeviceState } from "../generated/DeviceState";
import { absoluteTime, isoTime, relativeTime, STATE_LABELS } from "../model";
import type { Actions, AppState } from "../state";
import { kindSvg } from "./icons";
import { needsYou, presence } from "../device-words";

export function stateBadge(state: DeviceState, testid = true): TemplateResult {
  return html`<span class="badge" data-state=${state} data-testid=${testid ? "state-badge" : nothing}>${STATE_LABELS[state]}</span>`;
}

export function onlineTag(d: Device): TemplateResult {
  const p = presence(d);
  return html`<span
    class="online"
    data-testid="presence"
    data-online=${d.online ? "true" : "false"}
    data-connected=${d.connected ? "true" : "false"}
    data-blocked=${d.state === "blocked" ? "true" : "false"}
    title=${p.title}
    >${p.label}</span
  >`;
}

/** "Needs you" on a list row: an approved device that cannot do anything yet, or asks for more. */
export function needsYouTag(d: Device): TemplateResult | typeof nothing {
  const why = needsYou(d);
  return why
    ? html`<a class="needs-you" data-testid="needs-you" href="#/devices/${encodeURIComponent(d.id)}" title=${why}
        >Needs you<span class="sr-only">: ${why}</span></a
      >`
    : nothing;
}

export function kindBadge(d: Device, big = false): TemplateResult {
  return html`<span class="kind-icon ${big ? "big" : ""}" aria-hidden="true">${kindSvg(d.kind)}</span>`;
}

export function when(ms: number, now: number): TemplateResult {
  return html`<time datetime=${isoTime(ms)} title=${absoluteTime(ms)}>${relativeTime(ms, now)}</time>`;
}

/** Approve / Block / Forget, as fit the device's state. Labels name the device for screen readers. */
export function decisionButtons(d: Device, s: AppState, a: Actions): TemplateResult {
  const busy = s.busy.has(d.id);
  const guard = (fn: () => void) => () => {
    if (!busy) fn();
  };
  return html`<div class="actions" role="group" aria-label="Decide about ${d.name}">
    ${d.state !== "approved"
      ? html`<button
          type="button"
          class="btn ${d.state === "new" ? "primary" : ""}"
          data-testid="approve"
          aria-label="Approve ${d.name}"
          aria-disabled=${busy ? "true" : "false"}
          @click=${guard(() => a.decide(d, "approve"))}
        >
          Approve
        </button>`
      : nothing}
    ${d.state !== "blocked"
      ? html`<button
          type="button"
          class="btn"
          data-testid="block"
          aria-label="Block ${d.name}"
          aria-disabled=${busy ? "true" : "false"}
          @click=${guard(() => a.decide(d, "block"))}
        >
          Block
        </button>`
      : nothing}
    <button
      type="button"
      class="btn quiet danger"
      data-testid="forget"
      aria-label="Forget ${d.name}"
      aria-disabled=${busy ? "true" : "false"}
      @click=${(e: MouseEvent) => {
        if (!busy) a.askForget(d, e.currentTarget as HTMLElement);
      }}
    >
      Forget
    </button>
  </div>`;
}
