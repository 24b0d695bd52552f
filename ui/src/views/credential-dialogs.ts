// The two modal dialogs of a device's MQTT credential: the question before a secret is replaced
// or revoked (either cuts the device off until it is given the new one), and the one-time view of
// a new secret.

import { html, nothing, type TemplateResult } from "lit-html";
import type { Actions, AppState } from "../state";

export function credentialConfirmDialog(s: AppState, a: Actions): TemplateResult {
  const c = s.confirmingCredential;
  const revoke = c?.action === "revoke";
  return html`<dialog
    id="credential-dialog"
    class="dialog"
    data-testid="credential-dialog"
    aria-labelledby="credential-title"
    aria-describedby="credential-body"
    @close=${() => a.cancelCredential()}
  >
    ${c
      ? html`<h2 id="credential-title">${revoke ? `Revoke the credential of ${c.device.name}?` : `Give ${c.device.name} a new secret?`}</h2>
          <p id="credential-body">
            ${revoke
              ? "It is disconnected at once and cannot connect again until you issue it a new credential."
              : "It is disconnected at once, and connects again only once you enter the new secret in it. The old secret stops working."}
          </p>
          <div class="dialog-actions">
            <button type="button" class="btn" data-testid="credential-cancel" autofocus @click=${() => a.cancelCredential()}>Cancel</button>
            <button type="button" class=${revoke ? "btn danger" : "btn primary"} data-testid="credential-confirm" @click=${() => a.confirmCredential()}>
              ${revoke ? "Revoke" : "Issue a new secret"}
            </button>
          </div>`
      : nothing}
  </dialog>`;
}

/** The one-time view of a new secret, modal so that it is read before anything else. */
export function secretDialog(s: AppState, a: Actions): TemplateResult {
  const secret = s.secret;
  const c = secret?.credential;
  return html`<dialog
    id="secret-dialog"
    class="dialog secret"
    role="alertdialog"
    aria-labelledby="secret-title"
    aria-describedby="secret-note"
    @close=${() => a.closeSecret()}
  >
    ${secret && c
      ? html`<div data-testid="secret">
          <h2 id="secret-title" tabindex="-1">MQTT credential for ${secret.deviceName}</h2>
          <p id="secret-note"><strong>Shown only now.</strong> Hearth keeps only a hash of the secret: copy it into the device before closing this.</p>
          <dl class="facts">
            <dt>Broker</dt>
            <dd><code data-testid="secret-broker">${c.broker}</code></dd>
            <dt>Username</dt>
            <dd><code data-testid="secret-username">${c.username}</code></dd>
            <dt>Password</dt>
            <dd><code data-testid="secret-password" class="secret-value">${c.password}</code></dd>
          </dl>
          ${secret.qr ? html`<img class="qr" src=${secret.qr} alt="The same credential as a QR code" width="180" height="180" />` : nothing}
          <div class="dialog-actions">
            <button type="button" class="btn primary" data-testid="secret-close" @click=${() => a.closeSecret()}>I have copied it</button>
          </div>
        </div>`
      : nothing}
  </dialog>`;
}
