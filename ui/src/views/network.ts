// The home's Network page: Hearth's DNS gate and firewall in words, how many devices use
// Hearth's DNS, how to make the router hand Hearth out as the DNS server, the firewall rules
// for a router, and who talks to whom (a chart, and the same as a table).

import { html, nothing, type TemplateResult } from "lit-html";
import type { HomeNetwork } from "../generated/HomeNetwork";
import type { NetworkServices } from "../generated/NetworkServices";
import { grouped, plural } from "../model";
import { dnsHost } from "../network-model";
import type { Actions, AppState } from "../state";
import { trafficChart } from "./network-chart";

export function networkPage(s: AppState, a: Actions): TemplateResult {
  const state = s.network;
  return html`<section class="page network-page" aria-labelledby="page-title" data-testid="network-page">
    <nav class="crumbs" aria-label="Breadcrumb"><a href="#/" class="back">← All devices</a></nav>
    <h1 id="page-title" tabindex="-1">Network</h1>
    ${state?.error
      ? html`<div class="panel error-panel" role="alert"><p>${state.error.message}</p></div>`
      : state?.data
        ? loaded(a, state.data)
        : html`<p class="loading" aria-busy="true">Loading…</p>`}
  </section>`;
}

function loaded(a: Actions, n: HomeNetwork): TemplateResult {
  return html`${services(n)} ${routerSteps(a, n.services)}
    <section class="panel" aria-labelledby="h-who" data-testid="who-talks">
      <h2 id="h-who">Who talks to whom</h2>
      ${trafficChart(n.traffic)}
    </section>`;
}

function services(n: HomeNetwork): TemplateResult {
  const x = n.services;
  const fw = x.firewall;
  return html`<section class="panel" aria-labelledby="h-gate" data-testid="network-services">
    <h2 id="h-gate">Hearth's DNS and firewall</h2>
    <p class="dns-usage" data-testid="dns-usage">
      <strong>${n.devices_using_dns} of ${plural(n.devices, "device", "devices")}</strong> ${n.devices_using_dns === 1 ? "uses" : "use"}
      Hearth's DNS <span class="muted">(looked something up through it in the last day)</span>
    </p>
    <dl class="facts">
      <dt>DNS gate</dt>
      <dd data-testid="dns-gate">
        ${x.dns_listen
          ? html`Answers devices on <code>${x.dns_listen}</code>`
          : html`<span class="warn-text">Off</span>: nothing is held back. Start it with <code>hearth serve --dns-listen ADDRESS:53</code>.`}
      </dd>
      ${x.dns_listen
        ? html`<dt>Passes allowed look-ups to</dt>
            <dd data-testid="dns-upstream">${x.dns_upstream.map((u, i) => html`${i ? ", " : ""}<code>${u}</code>`)}</dd>`
        : nothing}
      <dt>Firewall</dt>
      <dd data-testid="firewall">
        ${fw.applied
          ? html`Applied on this computer, holding ${plural(fw.devices, "device", "devices")}`
          : fw.error
            ? html`<span class="warn-text">Could not be applied: ${fw.error}</span>`
            : fw.requested
              ? html`<span class="warn-text">Asked for, but not applied</span>`
              : html`Off: devices are held through DNS only. Run Hearth on the home's Linux gateway with
                  <code>--apply-firewall</code>, or load the rules below into your router.`}
      </dd>
      ${x.rate_limited > 0 || x.unrecorded > 0
        ? html`<dt>Turned away</dt>
            <dd>
              ${grouped(x.rate_limited)} look-ups from devices asking too fast; ${grouped(x.unrecorded)} not written down (too many at
              once)
            </dd>`
        : nothing}
    </dl>
  </section>`;
}

/** DHCP option 6, step by step: devices ask whatever DNS server the router hands them. */
function routerSteps(a: Actions, x: NetworkServices): TemplateResult {
  const at = x.dns_listen ? dnsHost(x.dns_listen) : undefined;
  const addr = at?.host ?? "ADDRESS";
  return html`<section class="panel steps" aria-labelledby="h-router" data-testid="router-steps">
    <h2 id="h-router">Make your router hand out Hearth as the DNS server (DHCP option 6)</h2>
    <ol>
      <li>
        Find Hearth's address:
        ${!at
          ? html`the DNS gate is off, so there is none yet. Start it first (<code>hearth serve --dns-listen ADDRESS:53</code>).`
          : at.host
            ? html`<code data-testid="dns-address">${at.host}</code>.`
            : html`Hearth listens on every address of this computer: use its address on the home network (your router lists it).`}
        ${at && at.port !== "53"
          ? html`<span class="warn-text">Devices only ask on port 53, and Hearth listens on ${at.port}: start it with
              <code>--dns-listen ${at.host ?? "ADDRESS"}:53</code>.</span>`
          : nothing}
      </li>
      <li>Open your router's DHCP or LAN settings (often under “LAN”, “DHCP server” or “Network”).</li>
      <li>
        Set the DNS server to that address. On OpenWrt:
        <code class="command">uci add_list dhcp.lan.dhcp_option='6,${addr}'</code>, then
        <code class="command">uci commit dhcp && service dnsmasq restart</code>.
      </li>
      <li>Renew the devices' leases: turn them off and on (or wait a day: they renew by themselves).</li>
    </ol>
    <h3>The firewall rules for your router</h3>
    <p class="muted">
      So that a device with its own DNS server cannot go around Hearth, load these on the home's gateway. They follow your choices on
      each device's page.
    </p>
    <div class="actions">
      <button type="button" class="btn" data-testid="export-openwrt" @click=${() => a.exportFirewall("openwrt")}>Download for OpenWrt</button>
      <button type="button" class="btn" data-testid="export-nft" @click=${() => a.exportFirewall("nft")}>Download for nftables</button>
    </div>
  </section>`;
}
