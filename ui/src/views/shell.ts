// The frame around every screen: header, warnings, the status bar, errors and the forget dialog.

import { confirmDialog } from "./confirm-dialog";
import { credentialConfirmDialog, secretDialog } from "./credential-dialogs";
import { html, nothing, type TemplateResult } from "lit-html";
import type { CaReplacement } from "../generated/CaReplacement";
import type { BrokerStatus } from "../generated/BrokerStatus";
import type { Status } from "../generated/Status";
import { grouped, plural } from "../model";
import type { Actions, AppState } from "../state";
import { devicePage } from "./device";
import { homeReviewPage } from "./home-review";
import { listPage } from "./list";
import { networkPage } from "./network";
import { settingsPage } from "./settings";
import { activityPage } from "./activity";
import { householdPage } from "./household";
import { welcomePage } from "./welcome";
import { banner, bell, notificationsPage } from "./notifications";
import { mayConfigureHome, ROLE_LABELS } from "../family-model";

/** Why Hearth's CA was replaced at this start, in a homeowner's words. */
const CA_REPLACED: Record<CaReplacement, string> = {
  unconstrained: "the old one, from an earlier version of Hearth, could vouch for any website",
  expiring: "the old one was about to expire",
  lost: "the old one's key was lost",
};

const CONNECTION_LABELS: Record<AppState["connection"], string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
};

export function appView(s: AppState, a: Actions): TemplateResult {
  const page =
    s.route.name === "device" && s.detail
      ? devicePage(s, a, s.detail)
      : s.route.name === "review"
        ? homeReviewPage(s, a)
        : s.route.name === "network"
          ? networkPage(s, a)
          : s.route.name === "settings"
            ? settingsPage(s, a)
            : s.route.name === "household"
              ? householdPage(s, a)
              : s.route.name === "activity"
                ? activityPage(s, a)
                : s.route.name === "welcome"
                  ? welcomePage(s, a)
                  : s.route.name === "notifications"
                    ? notificationsPage(s, a)
                    : listPage(s, a);
  return html`<a class="skip" href="#main">Skip to content</a>
    <header class="topbar" data-menu=${s.menuOpen ? "open" : "closed"}>
      <a class="brand" href="#/"><span class="brand-mark" aria-hidden="true">⌂</span> Hearth</a>
      <button
        type="button"
        class="btn quiet menu-toggle"
        id="menu-toggle"
        data-testid="menu-toggle"
        aria-expanded=${s.menuOpen ? "true" : "false"}
        aria-controls="main-nav"
        @click=${() => a.toggleMenu()}
      >
        <span aria-hidden="true">☰</span> Menu
      </button>
      <nav class="topnav" id="main-nav" aria-label="Main" @keydown=${(e: KeyboardEvent) => closeMenuOnEscape(e, a)}>
        <a href="#/" aria-current=${s.route.name === "list" || s.route.name === "device" ? "page" : nothing}>Devices</a>
        <a href="#/review" data-testid="nav-review" aria-current=${s.route.name === "review" ? "page" : nothing}>What they send</a>
        ${mayConfigureHome(s.me)
          ? html`<a href="#/network" data-testid="nav-network" aria-current=${s.route.name === "network" ? "page" : nothing}>Network</a>`
          : nothing}
        <a href="#/household" data-testid="nav-household" aria-current=${s.route.name === "household" ? "page" : nothing}>Household</a>
        <a href="#/activity" data-testid="nav-activity" aria-current=${s.route.name === "activity" ? "page" : nothing}>Activity</a>
        ${s.signInsAvailable
          ? html`<a href="#/settings" data-testid="nav-settings" aria-current=${s.route.name === "settings" ? "page" : nothing}>Settings</a>`
          : nothing}
      </nav>
      ${bell(s)}
      <div class="topbar-end">
        ${signedInAs(s, a)}
        <span class="conn" data-testid="connection" data-connection=${s.connection} role="status">
          <span class="dot" aria-hidden="true"></span>${CONNECTION_LABELS[s.connection]}
        </span>
      </div>
    </header>
    ${banners(s.status)} ${s.route.name === "notifications" ? nothing : banner(s, a)}
    <main id="main" tabindex="-1">${page}</main>
    ${statusBar(s)} ${forgetDialog(s, a)} ${credentialConfirmDialog(s, a)} ${confirmDialog(s, a)} ${secretDialog(s, a)}
    <div class="sr-only" aria-live="polite" aria-atomic="true">${s.announcement}</div>`;
}

/** Files instead of a keyring: why, in the hub's words; the system's own words (a D-Bus error,
 *  say) wait under "What this means", so that on a phone the warning stays two lines. */
function secretWarning(reason: string, path: string): TemplateResult {
  const said = reason.replace(/[.\s]+$/, "");
  const split = /^(.*?)\s*\((.+)\)$/s.exec(said);
  const why = split?.[1] ?? said;
  const technical = split?.[2];
  return html`<div class="banner warn" data-testid="secret-warning" role="note" aria-label="Secret storage warning">
    <span class="banner-icon" aria-hidden="true">⚠</span>
    <div>
      <p class="banner-lead"><strong>Secrets are stored in a file</strong> because ${why}.</p>
      <details>
        <summary>What this means</summary>
        <p>
          Hearth's own keys (for sign-in sessions and device credentials) are in <code>${path}</code>, readable only by the user
          Hearth runs as. Anyone who can read that file can act as this hub, so keep backups of it private. On a computer with a
          desktop keyring (Secret Service), Hearth keeps them there instead, which is safer.
        </p>
        ${technical ? html`<p class="muted">What the system said: ${technical}</p>` : nothing}
      </details>
    </div>
  </div>`;
}

/** On a phone the links are behind the menu button: Escape closes the menu and goes back to it. */
function closeMenuOnEscape(e: KeyboardEvent, a: Actions): void {
  if (e.key !== "Escape") return;
  const toggle = document.getElementById("menu-toggle");
  if (!toggle || getComputedStyle(toggle).display === "none") return;
  a.toggleMenu(false);
  toggle.focus();
}

/** Who this page acts as, and (in a browser) signing out. */
function signedInAs(s: AppState, a: Actions): TemplateResult | typeof nothing {
  const me = s.me?.member;
  if (!me) return nothing;
  return html`<span class="signed-in" data-testid="signed-in-as">
    <span>Signed in as <strong>${me.name}</strong> (${ROLE_LABELS[me.role]})</span>
    ${s.signInsAvailable
      ? html`<button
          type="button"
          class="btn quiet small"
          data-testid="sign-out-here"
          aria-disabled=${s.signingOut.has("here") ? "true" : "false"}
          @click=${() => a.signOutHere()}
        >
          Sign out
        </button>`
      : nothing}
  </span>`;
}

function banners(status: Status | undefined): TemplateResult | typeof nothing {
  if (!status) return nothing;
  const storage = status.secret_storage;
  const discoveryError = status.discovery.error;
  const recordingPaused = status.recording.paused_since !== null;
  const unclean = !status.last_shutdown.clean;
  const mqttUnsaved = status.last_shutdown.mqtt_save_failed;
  const caReplaced = status.ca?.replaced ?? null;
  const restartForMqtt = status.ca?.mqtt_restart_needed ?? false;
  if (storage.kind !== "file" && !discoveryError && !caReplaced && !restartForMqtt && !recordingPaused && !unclean && !mqttUnsaved) return nothing;
  // A region of its own: what it says is about the whole hub, on every page (and landmarks let a
  // screen reader jump past it).
  return html`<div class="banners" role="region" aria-label="About this hub">
    ${recordingPaused
      ? html`<div class="banner error" data-testid="recording-paused" role="alert">
          <span class="banner-icon" aria-hidden="true">⚠</span>
          <div>
            <strong>The disk is full: Hearth has stopped recording.</strong> Your devices still work and their messages are still
            delivered, but what they send is not written down (${plural(Number(status.recording.not_recorded), "record", "records")}
            so far). Free some space on the disk of <code>${status.data_dir}</code>: recording resumes by itself.
          </div>
        </div>`
      : nothing}
    ${unclean
      ? html`<div class="banner warn" data-testid="unclean-shutdown" role="note">
          <span class="banner-icon" aria-hidden="true">⚠</span>
          <div>
            Hearth did not stop cleanly last time (it was killed, crashed or lost power). Its database was checked:
            ${status.last_shutdown.database_check === "ok"
              ? html`nothing is damaged.`
              : html`<strong>${status.last_shutdown.database_check ?? "the check did not run"}</strong>.`}
          </div>
        </div>`
      : nothing}
    ${mqttUnsaved
      ? html`<div class="banner warn" data-testid="mqtt-unsaved" role="note">
          <span class="banner-icon" aria-hidden="true">⚠</span>
          <div>
            When Hearth last stopped, it could not save what had changed since its last save (the disk was probably full). Messages
            that came for offline devices in that time may be lost, and recent changes to what devices listen for and to the last
            states they reported. Free some space on the disk of <code>${status.data_dir}</code>.
          </div>
        </div>`
      : nothing}
    ${restartForMqtt && status.ca
      ? html`<div class="banner warn" data-testid="restart-for-mqtt" role="note">
          <span class="banner-icon" aria-hidden="true">⚠</span>
          <div>
            <strong>Restart Hearth before ${new Date(status.ca.server_expires_at).toLocaleDateString()}</strong>: its certificate was
            renewed, and devices that connect over MQTT with TLS get the new one only after a restart.
          </div>
        </div>`
      : nothing}
    ${caReplaced && status.ca
      ? html`<div class="banner error" data-testid="ca-replaced" role="alert">
          <span class="banner-icon" aria-hidden="true">⚠</span>
          <div>
            <p class="banner-lead">
              <strong>Hearth's certificate was replaced</strong> because ${CA_REPLACED[caReplaced]}. Phones, computers and devices
              that connect to Hearth securely refuse it until they get the new one.
            </p>
            <p>
              Install <code>${status.ca.file}</code> (also on each device's page) on each of them, and remove the old “Hearth home CA”.
            </p>
          </div>
        </div>`
      : nothing}
    ${storage.kind === "file" ? secretWarning(storage.reason, storage.path) : nothing}
    ${discoveryError
      ? html`<div class="banner error" data-testid="discovery-error" role="alert">
          <span class="banner-icon" aria-hidden="true">⚠</span>
          <div><strong>Discovery is not running.</strong> ${discoveryError}</div>
        </div>`
      : nothing}
  </div>`;
}

function statusBar(s: AppState): TemplateResult {
  const st = s.status;
  const d = st?.discovery;
  let discovery: TemplateResult;
  if (!d) discovery = html`Discovery: …`;
  else if (d.error) discovery = html`<span class="warn-text">Discovery stopped: ${d.error}</span>`;
  else if (!d.enabled) discovery = html`Discovery is off`;
  else
    discovery = html`<details class="types">
      <summary>
        Discovery: browsing ${plural(d.service_types.length, "service type", "service types")} on
        ${d.interfaces.length ? d.interfaces.join(", ") : "all interfaces"}
      </summary>
      <p>${d.service_types.map((t) => html`<code>${t}</code> `)}</p>
    </details>`;
  const b = st?.broker;
  const losses = b ? Number(b.lost_messages) + Number(b.unrecorded_decisions) : 0;
  const broker = !b
    ? html`MQTT: …`
    : !b.enabled
      ? html`MQTT broker is off`
      : html`MQTT broker on <code>${b.address}</code>${losses > 0
            ? html` · <span class="warn-text" data-testid="broker-losses"
                >${plural(Number(b.lost_messages), "message", "messages")} lost to full queues,
                ${plural(Number(b.unrecorded_decisions), "decision", "decisions")} unrecorded</span
              >`
            : nothing}${refusedConnections(b)}`;
  return html`<footer class="statusbar" data-testid="status-bar">
    <span>Hearth ${st ? st.version : ""}</span>
    <span class="discovery">${discovery}</span>
    <span class="broker" data-testid="broker-status">${broker}</span>
  </footer>`;
}

/** Devices turned away (a wrong secret, a client id another device holds, too many tries): a
 *  calm figure, only when there is one. The window is the last 24 hours. */
function refusedConnections(b: BrokerStatus): TemplateResult | typeof nothing {
  const refused = Number(b.refused_connections);
  if (refused === 0) return nothing;
  const addresses = Number(b.refused_addresses);
  return html` · <span
      data-testid="refused-connections"
      title="Connections Hearth turned away: a wrong or unknown credential, a client id another device holds, or too many tries. A device's page lists its own."
      >${grouped(refused)} refused ${refused === 1 ? "connection" : "connections"} from
      ${addresses === 1 ? "1 address" : `${grouped(addresses)} addresses`} in the last day</span
    >`;
}

function forgetDialog(s: AppState, a: Actions): TemplateResult {
  const d = s.forgetting;
  return html`<dialog
    id="forget-dialog"
    class="dialog"
    data-testid="forget-dialog"
    aria-labelledby="forget-title"
    aria-describedby="forget-body"
    @close=${() => a.cancelForget()}
  >
    ${d
      ? html`<h2 id="forget-title">Forget ${d.name}?</h2>
          <p id="forget-body">
            Hearth deletes this device and everything it recorded about it: its sightings, its history and your decision. If
            it is still on the network, it will show up again as a new device.
          </p>
          ${d.state === "blocked"
            ? html`<p class="warn-text" data-testid="forget-lifts-block">
                It is blocked now: forgetting it lifts the block. If it comes back, it is a new device, quarantined until you
                decide again. To keep it out, leave it blocked.
              </p>`
            : nothing}
          <div class="dialog-actions">
            <button type="button" class="btn" data-testid="forget-cancel" autofocus @click=${() => a.cancelForget()}>Cancel</button>
            <button type="button" class="btn danger" data-testid="forget-confirm" @click=${() => a.confirmForget()}>
              Forget device
            </button>
          </div>`
      : nothing}
  </dialog>`;
}
