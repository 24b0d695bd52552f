// The question before a one-click change that affects another device: allowing a learned topic
// that is another device's (or reaches it), and giving an entity another device describes to
// this one; removing a member or a room; operating a lock. The same pattern as the credential
// dialog: modal, Cancel first, Escape cancels.

import { html, nothing, type TemplateResult } from "lit-html";
import type { Actions, AppState, Confirmation } from "../state";
import { ACTION_LABELS } from "../family-model";
import { claimName } from "./described";
import { CATEGORY_LABELS, keepsLess, retentionLabel } from "../review-model";

interface Words {
  title: string;
  body: TemplateResult;
  yes: string;
  /** The confirming button is red: the change lets a device pass for another, or takes from one. */
  danger: boolean;
}

function words(c: Confirmation): Words {
  if (c.kind === "remove_member") {
    const who = c.member.name;
    return {
      title: `Remove ${who} from the household?`,
      body: html`${who} is signed out of every browser at once, and every right given to ${who} goes. Their personal devices become the
        household's. To let ${who} back in, add them again and send a new invitation.`,
      yes: `Remove ${who}`,
      danger: true,
    };
  }
  if (c.kind === "remove_room") {
    const room = c.room.name;
    return {
      title: `Remove the room ${room}?`,
      body: html`Its devices stay in Hearth, in no room. Rights given on ${room} go with it: who could see or use its devices through
        ${room} no longer can.`,
      yes: `Remove ${room}`,
      danger: true,
    };
  }
  if (c.kind === "control") {
    const verb = ACTION_LABELS[c.action].verb;
    return {
      title: `${verb} ${c.control.name}?`,
      body: html`${c.control.name} (on ${c.device.name}) opens or closes the home. Hearth sends the command at once, and records that you
        did.`,
      yes: verb,
      danger: c.action === "unlock" || c.action === "open",
    };
  }
  if (c.kind === "retention") return retentionWords(c);
  const name = c.device.name;
  if (c.kind === "give_entity") {
    const holder = c.contest.holder_name;
    return {
      title: `Give ${claimName(c.contest.claim)} to ${name}?`,
      body: html`${holder} loses it: what ${holder} described of it is removed, and its discovery messages about it are refused from
        now on. Only ${name} may describe it; its next discovery message (devices send them again) is accepted.`,
      yes: `Give it to ${name}`,
      danger: true,
    };
  }
  const { rule } = c;
  const other = rule.concerns?.name ?? "another device";
  const topic = html`<code>${rule.pattern}</code>`;
  if (rule.concerns?.owned) {
    const careful = `Allow it only if you know why ${name} needs it.`;
    return rule.direction === "publish"
      ? {
          title: `Let ${name} publish to ${other}'s topic?`,
          body: html`${topic} is ${other}'s topic. Allowing it lets ${name} speak for ${other}: what listens to ${other} would take
            ${name}'s messages for ${other}'s own. ${careful}`,
          yes: "Allow anyway",
          danger: true,
        }
      : {
          title: `Let ${name} subscribe to ${other}'s topic?`,
          body: html`${topic} is ${other}'s topic. Allowing it lets ${name} listen in on ${other}, commands meant for it included.
            ${careful}`,
          yes: "Allow anyway",
          danger: true,
        };
  }
  // Another device on the other end: usual (a display showing a sensor) or not (a plug sending
  // commands to a lock). Hearth cannot tell; the words help the person tell.
  return rule.direction === "publish"
    ? {
        title: `Let ${name} send to ${other}?`,
        body: html`${other} listens on ${topic}, so what ${name} sends there reaches ${other}. Allow it if ${other} should hear
          from ${name} (a display showing a sensor); deny it if not (a plug sending commands to a lock).`,
        yes: "Allow",
        danger: false,
      }
    : {
        title: `Let ${name} receive what ${other} sends?`,
        body: html`${other} publishes on ${topic}, so allowing it lets ${name} receive what ${other} sends there. Allow it if
          ${name} should hear from ${other}; deny it if not.`,
        yes: "Allow",
        danger: false,
      };
}

/** Keeping less deletes, at once, what is past the new limit: said before it happens. */
function retentionWords(c: Extract<Confirmation, { kind: "retention" }>): Words {
  const kind = CATEGORY_LABELS[c.category].toLowerCase();
  const name = c.device.name;
  const now = c.current?.retention;
  const title = `Change how long Hearth keeps ${kind} data of ${name}?`;
  if (c.retention === null) {
    return {
      title,
      body: html`Back to Hearth's default for ${kind} data. If the default keeps less than now, what is past it is deleted at once and
        cannot be brought back.`,
      yes: "Use the default",
      danger: false,
    };
  }
  const next = retentionLabel(c.retention).toLowerCase();
  if (!now || !keepsLess(c.retention, now)) {
    return {
      title,
      body: html`From now on: ${next}. What Hearth already deleted does not come back.`,
      yes: "Keep it longer",
      danger: false,
    };
  }
  const deleted =
    c.retention.keep === "none"
      ? html`the fields and values of ${kind} data already kept are deleted now; Hearth keeps only that ${name} sent something, and when`
      : c.retention.keep === "metadata"
        ? html`every ${kind} value already kept is deleted now; Hearth keeps which fields ${name} sends, never what they say`
        : html`${kind} values and saved messages older than ${c.retention.days} days are deleted now`;
  return {
    title,
    body: html`Now: ${retentionLabel(now).toLowerCase()}. After: ${next}. <strong>This deletes history:</strong> ${deleted}. It cannot be
      brought back.`,
    yes: "Keep less and delete",
    danger: true,
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
            <button type="button" class=${w.danger ? "btn danger" : "btn primary"} data-testid="confirm-yes" @click=${() => a.confirm()}>
              ${w.yes}
            </button>
          </div>`
      : nothing}
  </dialog>`;
}
