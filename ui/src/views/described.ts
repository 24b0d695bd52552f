// The device page's "What it describes": the devices and entities the device's discovery
// messages (Home Assistant, Tasmota, Zigbee2MQTT) announce, grouped by the device they belong to;
// and entities it was refused because another device described them first, which a person may
// give to it.

import { html, nothing, type TemplateResult } from "lit-html";
import type { BrokerView } from "../generated/BrokerView";
import type { ContestView } from "../generated/ContestView";
import type { DescribedView } from "../generated/DescribedView";
import type { Device } from "../generated/Device";
import type { EntityClaim } from "../generated/EntityClaim";
import type { Source } from "../generated/Source";
import { plural } from "../model";
import type { Actions } from "../state";

const SOURCES: Record<Source, string> = {
  home_assistant: "Home Assistant discovery",
  tasmota: "Tasmota discovery",
  zigbee2mqtt: "Zigbee2MQTT's device list",
};

/** An entity as a person can recognise it: its `unique_id`, or the discovery topic it came on. */
export function claimName(claim: EntityClaim): string {
  return claim.by === "unique_id" ? `‘${claim.value}’` : `the entity on ‘${claim.value}’`;
}

export function describedSection(a: Actions, d: Device, v: BrokerView, busy: boolean): TemplateResult {
  return html`<div class="broker-block" data-testid="described">
    <h3 id="h-described" tabindex="-1">What it describes</h3>
    ${v.contested.map((c) => contest(a, d, c, busy))}
    ${v.described.length
      ? v.described.map(group)
      : html`<p class="muted">
          Nothing yet. When the device announces itself through Home Assistant discovery, Tasmota's discovery or a Zigbee2MQTT
          bridge's device list, the devices and entities it describes appear here. It may only describe topics of its own.
        </p>`}
  </div>`;
}

/** A discovery message refused because another device described the entity first: maybe a
 *  squatter, maybe the device that really has it. A person decides. */
function contest(a: Actions, d: Device, c: ContestView, busy: boolean): TemplateResult {
  return html`<div class="attention" data-testid="contested" data-holder=${c.holder_id}>
    <p>
      <a href=${`#/devices/${encodeURIComponent(c.holder_id)}`}>${c.holder_name}</a> describes ${claimName(c.claim)} already, so this
      device's discovery message was refused. <span class="muted">(It came on <code>${c.topic}</code>.)</span>
    </p>
    <button
      type="button"
      class="btn"
      data-testid="give-entity"
      aria-disabled=${busy}
      @click=${(e: Event) => !busy && a.askConfirm({ kind: "give_entity", device: d, contest: c }, e.currentTarget as HTMLElement)}
    >
      Give it to ${d.name}…
    </button>
  </div>`;
}

function group(g: DescribedView): TemplateResult {
  const d = g.device;
  const made = d ? [d.vendor, d.model].filter(Boolean).join(" ") : "";
  return html`<div class="described" data-testid="described-device">
    <h4>
      ${d ? d.name : "Entities that name no device"}
      <span class="muted">${made ? html`${made} · ` : nothing}${SOURCES[g.source]}</span>
    </h4>
    ${g.entities.length
      ? html`<div class="table-wrap">
          <table class="cards">
            <caption class="sr-only">
              ${plural(g.entities.length, "entity", "entities")} of ${d ? d.name : "this device"}
            </caption>
            <thead>
              <tr>
                <th scope="col">Entity</th>
                <th scope="col">Kind</th>
                <th scope="col">State topic</th>
                <th scope="col">Commands</th>
              </tr>
            </thead>
            <tbody>
              ${g.entities.map(
                (e) => html`<tr data-testid="entity">
                  <td data-label="Entity">${e.name}${e.unit ? html` <span class="muted">(${e.unit})</span>` : nothing}</td>
                  <td data-label="Kind">${e.device_class ? `${e.component}, ${e.device_class}` : e.component}</td>
                  <td data-label="State topic">${e.state_topic ? html`<code>${e.state_topic}</code>` : "—"}</td>
                  <td data-label="Commands">${e.command_topic ? html`<code>${e.command_topic}</code>` : "—"}</td>
                </tr>`,
              )}
            </tbody>
          </table>
        </div>`
      : html`<p class="muted">No entities listed for it.</p>`}
  </div>`;
}
