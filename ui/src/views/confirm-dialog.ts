// The question before a one-click change that affects another device: allowing a learned topic
// that is another device's (or reaches it), and giving an entity another device describes to
// this one. The same pattern as the credential dialog: modal, Cancel first, Escape cancels.

import { html, nothing, type TemplateResult } from "lit-html";
import type { Actions, AppState, Confirmation } from "../state";
import { claimName } from "./described";

interface Words {
  title: string;
  body: TemplateResult;
  yes: string;
}

function words(c: Confirmation): Words {
  const name = c.device.name;
  if (c.kind === "give_entity") {
    const holder = c.contest.holder_name;
    return {
      title: `Give ${claimName(c.contest.claim)} to ${name}?`,
      body: html`${holder} loses it: what ${holder} described of it is removed, and its discovery messages about it are refused from
        now on. Only ${name} may describe it; its next discovery message (devices send them again) is accepted.`,
      yes: `Give it to ${name}`,
    };
  }
  const { rule } = c;
  const other = rule.concerns?.name ?? "another device";
  const topic = html`<code>${rule.pattern}</code>`;
  const careful = `Allow it only if you know why ${name} needs it.`;
  if (rule.concerns?.owned) {
    return rule.direction === "publish"
      ? {
          title: `Let ${name} publish to ${other}'s topic?`,
          body: html`${topic} is ${other}'s topic. Allowing it lets ${name} speak for ${other}: what listens to ${other} would take
            ${name}'s messages for ${other}'s own. ${careful}`,
          yes: "Allow anyway",
        }
      : {
          title: `Let ${name} subscribe to ${other}'s topic?`,
          body: html`${topic} is ${other}'s topic. Allowing it lets ${name} listen in on ${other}, commands meant for it included.
            ${careful}`,
          yes: "Allow anyway",
        };
  }
  return rule.direction === "publish"
    ? {
        title: `Let ${name} send to ${other}?`,
        body: html`${other} listens on ${topic}, so allowing it lets ${name}'s messages reach ${other}. ${careful}`,
        yes: "Allow anyway",
      }
    : {
        title: `Let ${name} receive what ${other} sends?`,
        body: html`${other} publishes on ${topic}, so allowing it lets ${name} receive what ${other} sends there. ${careful}`,
        yes: "Allow anyway",
      };
}

export function confirmDialog(s: AppState, a: Actions): TemplateResult {
  const c = s.confirming;
  const w = c ? words(c) : undefined;
  return html`<dialog
    id="confirm-dialog"
    class="dialog"
    data-testid="confirm-dialog"
    aria-labelledby="confirm-title"
    aria-describedby="confirm-body"
    @close=${() => a.cancelConfirm()}
  >
    ${w
      ? html`<h2 id="confirm-title">${w.title}</h2>
          <p id="confirm-body">${w.body}</p>
          <div class="dialog-actions">
            <button type="button" class="btn" data-testid="confirm-cancel" autofocus @click=${() => a.cancelConfirm()}>Cancel</button>
            <button type="button" class="btn danger" data-testid="confirm-yes" @click=${() => a.confirm()}>${w.yes}</button>
          </div>`
      : nothing}
  </dialog>`;
}
