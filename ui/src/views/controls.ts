// The device page's Controls: the switches, lights, covers, locks and buttons the device
// described, each with what it last reported and a button per action. Only for those who may
// use the device; the hub checks again, and its refusal is shown in its own words.

import { html, nothing, type TemplateResult } from "lit-html";
import type { ControlView } from "../generated/ControlView";
import type { Device } from "../generated/Device";
import { ACTION_LABELS, reportedState, rightsOn } from "../family-model";
import type { Actions, AppState, DetailState } from "../state";
import { when } from "./parts";

export function controlsSection(s: AppState, a: Actions, d: Device, detail: DetailState): TemplateResult | typeof nothing {
  if (detail.controlsError) {
    return html`<section class="panel" aria-labelledby="h-controls" data-testid="controls">
      <h2 id="h-controls">Controls</h2>
      <p class="warn-text" role="alert">${detail.controlsError.message}</p>
    </section>`;
  }
  // Nothing to operate (or not loaded yet): no card at all.
  if (!detail.controls || detail.controls.length === 0) return nothing;
  const may = rightsOn(s.me, d.id).control;
  return html`<section class="panel controls" aria-labelledby="h-controls" data-testid="controls">
    <h2 id="h-controls" tabindex="-1">Controls</h2>
    ${may ? nothing : html`<p class="muted" data-testid="no-control">You may see these, not operate them. Ask an owner of the home if you need to.</p>`}
    <ul class="plain control-list">
      ${detail.controls.map((c) => control(s, a, d, c, may))}
    </ul>
  </section>`;
}

function control(s: AppState, a: Actions, d: Device, c: ControlView, may: boolean): TemplateResult {
  const busy = s.busy.has(d.id);
  const state = reportedState(c);
  return html`<li class="control" data-testid="control" data-entity=${c.entity} data-component=${c.component}>
    <div class="control-what">
      <strong>${c.name}</strong>
      <div class="muted small" data-testid="reported">
        ${state !== undefined
          ? html`Reports: <strong class="reported">${state}</strong>${c.reported_at !== null ? html` · ${when(c.reported_at, s.now)}` : nothing}`
          : "Nothing reported yet"}
      </div>
    </div>
    ${may
      ? html`<div class="actions" role="group" aria-label="Operate ${c.name}">
          ${c.actions.map((action) => {
            const { label, verb } = ACTION_LABELS[action];
            return html`<button
              type="button"
              class="btn"
              data-testid="control-action"
              data-action=${action}
              aria-label="${verb} ${c.name}"
              aria-disabled=${busy ? "true" : "false"}
              @click=${(e: MouseEvent) => !busy && a.control(d, c, action, e.currentTarget as HTMLElement)}
            >
              ${label}
            </button>`;
          })}
        </div>`
      : nothing}
  </li>`;
}
