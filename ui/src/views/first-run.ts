// On the device list, once: what New, Approve, Block and Forget mean in Hearth, and what they do
// not do yet. Each device's page says it for that device (device-words.ts); this is the one
// explanation a person meets before their first decision. Open on a browser's first visit, closed
// for good once they say "Got it" (or close it), and always there again behind its own line,
// "What do New, Approve, Block and Forget mean?" (at the end of the list on later visits).
// Remembered in this browser, like Advanced.

import { html, type TemplateResult } from "lit-html";
import "./first-run.css";

const KEY = "hearth.explained";

/** Read on an earlier visit: then its line waits at the end of the list, where it takes no room
 * above the devices (on a phone the first device must start on the first screen). Taken once per
 * page load, so that "Got it" does not move it away from under the keyboard. */
export const readBefore: boolean = seen();

function seen(): boolean {
  try {
    return localStorage.getItem(KEY) === "seen";
  } catch {
    return false;
  }
}

function remember(): void {
  try {
    localStorage.setItem(KEY, "seen");
  } catch {
    /* private mode: it shows again next time, which is only a little more help than needed */
  }
}

/** Closing it any way counts as read: by its button, or by its line. */
function toggled(e: Event): void {
  if (!(e.currentTarget as HTMLDetailsElement).open) remember();
}

/** "Got it": closed, and the keyboard's place kept on the line that opens it again. */
function dismiss(e: Event): void {
  const details = (e.currentTarget as HTMLElement).closest("details");
  if (!details) return;
  details.open = false;
  remember();
  details.querySelector("summary")?.focus();
}

export function firstRun(): TemplateResult {
  // `?open` is only what a render computes: a person who opens it again keeps it open (lit
  // writes the attribute only when the computed value changes).
  return html`<details class="first-run" data-testid="first-run" ?open=${!seen()} @toggle=${toggled}>
    <summary data-testid="first-run-toggle">What do New, Approve, Block and Forget mean?</summary>
    <div class="first-run-body">
      <p>Hearth lists the devices it finds on your home network, and each new one waits for your decision.</p>
      <dl>
        <dt>New</dt>
        <dd>Hearth has just found it. If it sends its messages through Hearth, Hearth holds what it sends and passes none of it on until you decide.</dd>
        <dt>Approve</dt>
        <dd>You know this device. It may send and receive what its rules allow.</dd>
        <dt>Block</dt>
        <dd>Hearth refuses what it sends through its broker, and cuts off its internet where Hearth stands between it and the internet.</dd>
        <dt>Forget</dt>
        <dd>Hearth deletes it and everything Hearth recorded about it. If it is still there, it comes back as New. Forgetting a blocked device lifts the block.</dd>
      </dl>
      <p data-testid="first-run-not-yet">
        <strong>What they do not do yet:</strong> many devices never use Hearth's broker, and Hearth is not between them and the internet.
        For those, approving or blocking changes nothing on your network: it records your decision. Each device's page says what they do
        for that device.
      </p>
      <button type="button" class="btn primary" data-testid="first-run-dismiss" @click=${dismiss}>Got it</button>
    </div>
  </details>`;
}
