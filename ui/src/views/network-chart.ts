// "Who talks to whom": one horizontal bar per device (the busiest), split into the home's
// busiest domains and "other", the refused part of each hatched. Plain SVG, no chart library:
// the bars are simple and must print and scale like text. The same figures as a table below it.

import { html, nothing, svg, type SVGTemplateResult, type TemplateResult } from "lit-html";
import type { DomainTraffic } from "../generated/DomainTraffic";
import { grouped } from "../model";
import { type ChartBar, CHART_DEVICES, chartOf } from "../network-model";

/** The drawing's own units; the SVG scales to the panel's width. */
const WIDTH = 720;
const LABEL = 170;
const TOTAL = 64;
const ROW = 28;
const BAR = 18;
/** Device names longer than this are cut (the whole name is in the table and the tooltip). */
const NAME_CHARS = 22;

export function trafficChart(traffic: readonly DomainTraffic[]): TemplateResult {
  if (traffic.length === 0) {
    return html`<p class="muted" data-testid="traffic-empty">
      No device looked anything up through Hearth in the last seven days. Once your router hands out Hearth as the DNS server (the
      steps above), who talks to whom shows here.
    </p>`;
  }
  const chart = chartOf(traffic);
  const height = chart.bars.length * ROW + 4;
  const scale = (WIDTH - LABEL - TOTAL) / chart.max;
  const devices = new Set(traffic.map((t) => t.device_id)).size;
  const colour = (domain: string | null) => (domain === null ? "dom-other" : `dom-${chart.domains.indexOf(domain)}`);
  return html`<p class="muted">
      Look-ups through Hearth's DNS over the last seven days, by device and domain${devices > CHART_DEVICES
        ? html`: the ${CHART_DEVICES} busiest of ${devices} devices`
        : nothing}.
    </p>
    <svg
      class="net-chart"
      data-testid="traffic-chart"
      viewBox="0 0 ${WIDTH} ${height}"
      role="img"
      aria-labelledby="net-chart-title"
    >
      <title id="net-chart-title">Look-ups per device, by domain, the refused part hatched; the table below lists the same</title>
      <defs>
        <pattern id="net-refused" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">
          <line class="hatch" x1="0" y1="0" x2="0" y2="6"></line>
        </pattern>
      </defs>
      ${chart.bars.map((b, i) => bar(b, i * ROW + 2, scale, colour))}
    </svg>
    <ul class="net-legend plain" aria-label="Colours">
      ${chart.domains.map((d, i) => html`<li><span class="swatch dom-${i}" aria-hidden="true"></span>${d}</li>`)}
      ${chart.hasOther ? html`<li><span class="swatch dom-other" aria-hidden="true"></span>other domains</li>` : nothing}
      <li><span class="swatch refused-swatch" aria-hidden="true"></span>refused</li>
    </ul>
    ${table(traffic)}`;
}

function bar(b: ChartBar, y: number, scale: number, colour: (d: string | null) => string): SVGTemplateResult {
  const name = b.name.length > NAME_CHARS ? `${b.name.slice(0, NAME_CHARS - 1)}…` : b.name;
  let x = LABEL;
  const parts = b.parts.map((p) => {
    const w = p.queries * scale;
    const refusedW = p.refused * scale;
    const at = x;
    x += w;
    const what = `${b.name} → ${p.domain ?? "other domains"}: ${grouped(p.queries)} look-ups${p.refused ? `, ${grouped(p.refused)} refused` : ""}`;
    // The allowed part first, then the refused part of the same colour, hatched over.
    return svg`<g class="part" data-domain=${p.domain ?? "other"}>
      <title>${what}</title>
      <rect class="seg ${colour(p.domain)}" x=${at} y=${y} width=${Math.max(w, 0.5)} height=${BAR}></rect>
      ${p.refused
        ? svg`<rect class="seg-refused" x=${at + w - refusedW} y=${y} width=${Math.max(refusedW, 0.5)} height=${BAR} fill="url(#net-refused)"></rect>`
        : nothing}
    </g>`;
  });
  return svg`<g class="bar" data-device-id=${b.deviceId}>
    <text class="bar-name" x=${LABEL - 8} y=${y + BAR / 2} text-anchor="end" dominant-baseline="central"><title>${b.name}</title>${name}</text>
    ${parts}
    <text class="bar-total" x=${x + 6} y=${y + BAR / 2} dominant-baseline="central">${grouped(b.queries)}</text>
  </g>`;
}

function table(traffic: readonly DomainTraffic[]): TemplateResult {
  return html`<details class="net-table" data-testid="traffic-table">
    <summary>The same as a table</summary>
    <div class="table-wrap">
      <table class="txt cards">
        <caption>
          Look-ups per device and domain, last seven days, busiest first
        </caption>
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">Domain</th>
            <th scope="col">Look-ups</th>
            <th scope="col">Refused</th>
          </tr>
        </thead>
        <tbody>
          ${traffic.map(
            (t) => html`<tr data-testid="traffic-row" data-device-id=${t.device_id} data-domain=${t.domain}>
              <th scope="row"><a href=${`#/devices/${encodeURIComponent(t.device_id)}`}>${t.device_name || t.device_id}</a></th>
              <td data-label="Domain"><code>${t.domain}</code></td>
              <td data-label="Look-ups">${grouped(t.queries)}</td>
              <td data-label="Refused">${grouped(t.refused)}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>
  </details>`;
}
