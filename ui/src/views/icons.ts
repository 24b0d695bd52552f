// Line icons per kind, drawn here (24×24, stroke = currentColor) so they look the same on every
// machine: emoji fonts are missing on many Linux desktops and servers. Decorative only; the
// kind is always written out next to the icon.

import { html, svg, type SVGTemplateResult, type TemplateResult } from "lit-html";
import type { Kind } from "../generated/Kind";

const bulb = svg`<path d="M9 18h6M10 21h4M12 3a6 6 0 0 0-3.6 10.8c.7.5 1.1 1.3 1.1 2.1V17h5v-1.1c0-.8.4-1.6 1.1-2.1A6 6 0 0 0 12 3z"/>`;
const plug = svg`<path d="M9 3v5M15 3v5M6.5 8h11v3a5.5 5.5 0 0 1-11 0V8zM12 16.5V21"/>`;
const toggle = svg`<rect x="2.5" y="7.5" width="19" height="9" rx="4.5"/><circle cx="16.5" cy="12" r="2.5"/>`;
const thermometer = svg`<path d="M14 14.5V5a2 2 0 0 0-4 0v9.5a4 4 0 1 0 4 0zM12 17.5v-6"/>`;
const lock = svg`<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V7.5a4 4 0 0 1 8 0V11M12 15v2"/>`;
const camera = svg`<rect x="3" y="7" width="18" height="13" rx="2.5"/><circle cx="12" cy="13.5" r="3.5"/><path d="M8.5 7l1.5-3h4l1.5 3"/>`;
const bell = svg`<path d="M6 16v-5a6 6 0 0 1 12 0v5l2 2H4l2-2zM10 21h4"/>`;
const speaker = svg`<rect x="6" y="2.5" width="12" height="19" rx="2.5"/><circle cx="12" cy="14" r="3.5"/><circle cx="12" cy="6.5" r="1"/>`;
const tv = svg`<rect x="2.5" y="4.5" width="19" height="13" rx="2"/><path d="M8 21h8"/>`;
const play = svg`<rect x="2.5" y="4.5" width="19" height="13" rx="2"/><path d="M8 21h8M10 8.5l5 2.5-5 2.5z"/>`;
const printer = svg`<path d="M6.5 9V3.5h11V9"/><rect x="3" y="9" width="18" height="8" rx="2"/><rect x="7" y="14" width="10" height="7" rx="1"/>`;
const network = svg`<circle cx="5" cy="12" r="2.2"/><circle cx="19" cy="5.5" r="2.2"/><circle cx="19" cy="18.5" r="2.2"/><path d="M7 11l10-4.5M7 13l10 4.5"/>`;
const house = svg`<path d="M3.5 11L12 4l8.5 7M5.5 9.5V20h13V9.5M10 20v-5h4v5"/>`;
const router = svg`<rect x="3" y="13" width="18" height="7" rx="2"/><path d="M7 16.5h.01M11 16.5h.01M8 13l-1.5-5M16 13l1.5-5"/>`;
const vacuum = svg`<circle cx="12" cy="12" r="9"/><circle cx="12" cy="12" r="3"/><path d="M12 3v3"/>`;
const computer = svg`<rect x="3" y="4" width="18" height="12" rx="2"/><path d="M2 20h20"/>`;
const fan = svg`<circle cx="12" cy="12" r="1.6"/><path d="M12 10.4C10.5 6.5 11 3.5 13.5 3.5s3 3.5-1.5 6.9M13.6 12c3.9-1.5 6.9-1 6.9 1.5s-3.5 3-6.9-1.5M12 13.6c1.5 3.9 1 6.9-1.5 6.9s-3-3.5 1.5-6.9M10.4 12c-3.9 1.5-6.9 1-6.9-1.5s3.5-3 6.9 1.5"/>`;
const door = svg`<rect x="6" y="3" width="12" height="18" rx="1"/><path d="M15 12h.01M3.5 21h17"/>`;
const garage = svg`<path d="M3 20V9l9-5 9 5v11M6.5 20v-8h11v8M6.5 15h11"/>`;
const windowIcon = svg`<rect x="4" y="4" width="16" height="16" rx="1.5"/><path d="M12 4v16M4 12h16"/>`;
const blinds = svg`<path d="M4 4h16M5 4v11h14V4M5 7.5h14M5 11h14M12 15v3"/><circle cx="12" cy="19.5" r="1.2"/>`;
const shield = svg`<path d="M12 3l8 3v6c0 4.8-3.4 8-8 9-4.6-1-8-4.2-8-9V6l8-3z"/><path d="M9 12l2 2 4-4"/>`;
const leaf = svg`<path d="M5 19C5 10 10 5 20 4c-1 10-6 15-15 15zM5 19l8-8"/>`;
const flame = svg`<path d="M12 21a6 6 0 0 0 6-6c0-4-3-6-4-10-2 2-3 4-3 6-1-1-1.5-2-1.5-3C7.5 10 6 12.5 6 15a6 6 0 0 0 6 6z"/>`;
const snow = svg`<path d="M12 3v18M4.2 7.5l15.6 9M4.2 16.5l15.6-9M9.5 4.5L12 7l2.5-2.5M9.5 19.5L12 17l2.5 2.5"/>`;
const drop = svg`<path d="M12 3.5s6 6.3 6 10.5a6 6 0 0 1-12 0c0-4.2 6-10.5 6-10.5z"/>`;
const sprinkler = svg`<path d="M12 21v-7M9 14h6M12 11V9M8 9.5L6 7M16 9.5L18 7M12 6V3M7 4.5l1 1.5M17 4.5l-1 1.5"/>`;
const remote = svg`<rect x="8" y="2.5" width="8" height="19" rx="3"/><circle cx="12" cy="7" r="1.5"/><path d="M10.5 12h.01M13.5 12h.01M10.5 15h.01M13.5 15h.01"/>`;
const box = svg`<path d="M3.5 7.5L12 3.5l8.5 4v9l-8.5 4-8.5-4zM3.5 7.5L12 11.5l8.5-4M12 11.5v9"/>`;
const question = svg`<circle cx="12" cy="12" r="9"/><path d="M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .8-1 1.5v.7M12 17h.01"/>`;

const ICONS: Record<Kind, SVGTemplateResult> = {
  light: bulb,
  plug,
  switch: toggle,
  sensor: thermometer,
  thermostat: thermometer,
  lock,
  camera,
  doorbell: bell,
  speaker,
  tv,
  media_player: play,
  printer,
  bridge: network,
  hub: house,
  vacuum,
  computer,
  router,
  fan,
  garage_door: garage,
  door,
  window: windowIcon,
  window_covering: blinds,
  security_system: shield,
  air_purifier: leaf,
  heater: flame,
  air_conditioner: snow,
  humidifier: drop,
  dehumidifier: drop,
  sprinkler,
  remote,
  other: box,
  unknown: question,
};

export function kindSvg(kind: Kind): TemplateResult {
  // The <svg> element itself belongs in an `html` template; its contents are `svg` fragments.
  return html`<svg viewBox="0 0 24 24" width="24" height="24" fill="none" stroke="currentColor" stroke-width="1.7"
    stroke-linecap="round" stroke-linejoin="round" focusable="false">${ICONS[kind] ?? box}</svg>`;
}

/** Waves around a point: a device announcing itself (the empty list). */
export const listeningSvg = html`<svg viewBox="0 0 24 24" width="40" height="40" fill="none" stroke="currentColor"
  stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round" focusable="false">
  <circle cx="12" cy="12" r="2" />
  <path d="M8.5 8.5a5 5 0 0 0 0 7M15.5 8.5a5 5 0 0 1 0 7M5.6 5.6a9 9 0 0 0 0 12.8M18.4 5.6a9 9 0 0 1 0 12.8" />
</svg>`;
