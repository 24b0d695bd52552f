// Who is who, when announcements cannot decide it. Anyone on the network can send an mDNS
// announcement, so Hearth never joins two records a person decided about on an announcement's
// word: it asks (on both device pages, as a live banner, and on the home review), and it keeps a
// quiet record of announcements that contradicted themselves.

import { html, nothing, type TemplateResult } from "lit-html";
import type { Announcement } from "../generated/Announcement";
import type { Device } from "../generated/Device";
import type { IdentityConflict } from "../generated/IdentityConflict";
import type { MergeProposal } from "../generated/MergeProposal";
import { namedIds, plural } from "../model";
import type { Actions, AppState, IdentityState } from "../state";
import { when } from "./parts";

/** Ignored announcements listed at most; the CLI's `hearth identity` lists them all. */
const IGNORED_SHOWN = 10;

const deviceLink = (id: string, name: string) => html`<a href=${`#/devices/${encodeURIComponent(id)}`}>${name}</a>`;

/** "from 10.77.0.3", or "on the network" when it gave no address. An announcement's addresses
 *  are where it says its device is, which is all Hearth can tell of who sent it. */
function from(a: Announcement): TemplateResult {
  if (a.addresses.length === 0) return html`on the network`;
  return html`from ${a.addresses.map((ip, i) => html`${i > 0 ? (i === a.addresses.length - 1 ? " and " : ", ") : ""}<code>${ip}</code>`)}`;
}

/** "seen just now", "seen 3 times, last 2 min ago". */
function seen(s: AppState, count: number, last: number, word = "seen"): TemplateResult {
  return count > 1 ? html`${word} ${plural(count, "time", "times")}, last ${when(last, s.now)}` : html`${word} ${when(last, s.now)}`;
}

/** The other record of a question about `id`. */
function otherOf(p: MergeProposal, id: string): { id: string; name: string } {
  return p.device_a === id ? { id: p.device_b, name: p.name_b } : { id: p.device_a, name: p.name_a };
}

/** The device page's questions: "Is this the same device as …?", with Merge and Keep apart. */
export function mergeQuestions(s: AppState, a: Actions, d: Device, proposals: readonly MergeProposal[]): TemplateResult | typeof nothing {
  if (proposals.length === 0) return nothing;
  const busy = s.busy.has(d.id);
  return html`${proposals.map((p, i) => {
    const other = otherOf(p, d.id);
    const title = `merge-title-${i}`;
    return html`<section class="panel question" data-testid="merge-question" data-other=${other.id} aria-labelledby=${title}>
      <h2 id=${title}>Is this the same device as ${deviceLink(other.id, other.name)}?</h2>
      <p>
        An announcement ${from(p.announcement)} said so. Hearth has not joined them because you made decisions about both.
        <span class="muted">It was “${p.announcement.instance}” (<code>${p.announcement.type}</code>), ${seen(s, p.seen, p.last_at)}.</span>
      </p>
      <p class="muted">Anyone on your network can send such an announcement: merge only if you know they are one device.</p>
      <div class="answers">
        <div class="answer">
          <button type="button" class="btn" data-testid="merge" aria-disabled=${busy} aria-label="Merge with ${other.name}"
            @click=${() => !busy && a.answerMerge(d, other, "merge")}>Merge</button>
          <span>One record is kept, with the stricter of every decision: if either is blocked, it stays blocked.</span>
        </div>
        <div class="answer">
          <button type="button" class="btn" data-testid="keep-apart" aria-disabled=${busy} aria-label="Keep apart from ${other.name}"
            @click=${() => !busy && a.answerMerge(d, other, "keep_apart")}>Keep apart</button>
          <span>They are two devices: Hearth stops asking.</span>
        </div>
      </div>
    </section>`;
  })}`;
}

/** The live banner's words for a new question, linking to both records. */
export function questionNews(p: MergeProposal): TemplateResult {
  return html`<strong>Is ${deviceLink(p.device_a, p.name_a)} the same device as ${deviceLink(p.device_b, p.name_b)}?</strong>
    An announcement ${from(p.announcement)} said so. Hearth has not joined them: answer on either one's page.`;
}

/** The home review's open questions (none: nothing shown). */
export function openQuestions(s: AppState, identity: IdentityState | undefined): TemplateResult | typeof nothing {
  const proposals = identity?.data?.proposals ?? [];
  if (proposals.length === 0) return nothing;
  return html`<section class="panel question" data-testid="open-questions" aria-labelledby="h-questions">
    <h2 id="h-questions">${plural(proposals.length, "question", "questions")} for you</h2>
    <ul class="plain">
      ${proposals.map(
        (p) => html`<li data-testid="open-question">
          Is ${deviceLink(p.device_a, p.name_a)} the same device as ${deviceLink(p.device_b, p.name_b)}? An announcement
          ${from(p.announcement)} said so (${seen(s, p.seen, p.last_at)}). Answer on either one's page.
        </li>`,
      )}
    </ul>
  </section>`;
}

/** Announcements that named two ids of one kind: a short, quiet record, nothing to do. */
export function ignoredAnnouncements(s: AppState, identity: IdentityState | undefined): TemplateResult | typeof nothing {
  if (identity?.error) {
    return html`<section class="panel quiet" aria-labelledby="h-ignored">
      <h2 id="h-ignored">Announcements Hearth ignored</h2>
      <p class="warn-text" role="alert">${identity.error.message}</p>
    </section>`;
  }
  const ignored = identity?.data?.ignored ?? [];
  if (ignored.length === 0) return nothing;
  const hidden = ignored.length - IGNORED_SHOWN;
  return html`<section class="panel quiet" data-testid="ignored-announcements" aria-labelledby="h-ignored">
    <h2 id="h-ignored">Announcements Hearth ignored <span class="count">${ignored.length}</span></h2>
    <p class="muted">
      Each named two different ids of one kind, which a real device's announcement never does. Hearth took nothing from them,
      so none of your devices changed. There is nothing you need to do.
    </p>
    <ul class="plain">
      ${ignored.slice(0, IGNORED_SHOWN).map((c) => ignoredEntry(s, c))}
    </ul>
    ${hidden > 0 ? html`<p class="muted">And ${plural(hidden, "older one", "older ones")}: <code>hearth identity</code> lists them all.</p>` : nothing}
  </section>`;
}

function ignoredEntry(s: AppState, c: IdentityConflict): TemplateResult {
  const named = namedIds(c.keys).filter((n) => n.values.length > 1);
  const shown = named.length ? named : namedIds(c.keys);
  return html`<li data-testid="ignored">
    An announcement ${from(c.announcement)}, “${c.announcement.instance}” (<code>${c.announcement.type}</code>), named
    ${shown.map(
      (n, i) => html`${i > 0 ? " and " : ""}${n.what} (${n.values.map((v, j) => html`${j > 0 ? ", " : ""}<code>${v}</code>`)})`,
    )}.
    <span class="muted">${seen(s, c.seen, c.last_at, "Seen")}.</span>
  </li>`;
}
