// The device page's "What it describes": the devices and entities the device's discovery
// messages (Home Assistant, Tasmota, Zigbee2MQTT) announce, grouped by the device they belong to.

import { html, nothing, type TemplateResult } from "lit-html";
import type { BrokerView } from "../generated/BrokerView";
import type { DescribedView } from "../generated/DescribedView";
import type { Source } from "../generated/Source";
import { plural } from "../model";

const SOURCES: Record<Source, string> = {
  home_assistant: "Home Assistant discovery",
  tasmota: "Tasmota discovery",
  zigbee2mqtt: "Zigbee2MQTT's device list",
};

export function describedSection(v: BrokerView): TemplateResult {
  return html`<div class="broker-block" data-testid="described">
    <h3>What it describes</h3>
    ${v.described.length
      ? v.described.map(group)
      : html`<p class="muted">
          Nothing yet. When the device announces itself through Home Assistant discovery, Tasmota's discovery or a Zigbee2MQTT
          bridge's device list, the devices and entities it describes appear here. It may only describe topics of its own.
        </p>`}
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
          <table>
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
                  <td>${e.name}${e.unit ? html` <span class="muted">(${e.unit})</span>` : nothing}</td>
                  <td>${e.device_class ? `${e.component}, ${e.device_class}` : e.component}</td>
                  <td>${e.state_topic ? html`<code>${e.state_topic}</code>` : "—"}</td>
                  <td>${e.command_topic ? html`<code>${e.command_topic}</code>` : "—"}</td>
                </tr>`,
              )}
            </tbody>
          </table>
        </div>`
      : html`<p class="muted">No entities listed for it.</p>`}
  </div>`;
}
