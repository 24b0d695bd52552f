// Settings: who you are signed in as and your password, and where you are signed in ("Signed
// in on"), in a homeowner's words, with a sign-out for each browser and one for every other.
// Only in a browser: the desktop window is the owner and has no session of its own.

import { html, nothing, type TemplateResult } from "lit-html";
import { repeat } from "lit-html/directives/repeat.js";
import type { BrowserSession } from "../generated/BrowserSession";
import { absoluteTime, relativeTime } from "../model";
import type { Actions, AppState } from "../state";
import { memberName, ROLE_LABELS } from "../family-model";
import { passwordForm } from "./welcome";

export function settingsPage(s: AppState, a: Actions): TemplateResult {
  return html`<section class="page settings-page" aria-labelledby="page-title" data-testid="settings">
    <nav class="crumbs" aria-label="Breadcrumb"><a href="#/" class="back">← All devices</a></nav>
    <h1 id="page-title" tabindex="-1">Settings</h1>
    ${s.signInsAvailable ? you(s, a) : nothing}
    <section class="panel" aria-labelledby="signed-in-title" data-testid="signed-in">
      <h2 id="signed-in-title" tabindex="-1">Signed in on</h2>
      ${s.signInsAvailable ? signIns(s, a) : desktopNote()}
    </section>
  </section>`;
}

/** Who this browser is signed in as, and their password. */
function you(s: AppState, a: Actions): TemplateResult | typeof nothing {
  const me = s.me?.member;
  if (!me) return nothing;
  return html`<section class="panel" aria-labelledby="you-title" data-testid="you">
    <h2 id="you-title" tabindex="-1">You</h2>
    <p data-testid="settings-signed-in-as">Signed in as <strong>${me.name}</strong> (${ROLE_LABELS[me.role]}).</p>
    ${me.founding
      ? html`<p class="muted">As the hub's owner you can always sign in with <code>hearth open</code> on the hub; a password lets you sign in from anywhere on the home network too.</p>`
      : nothing}
    <h3>${me.has_password ? "Change your password" : "Choose a password"}</h3>
    ${s.password.done
      ? html`<p id="password-done" tabindex="-1" role="status" data-testid="password-done">Your password is set.</p>`
      : passwordForm(s, a, me.has_password, me.has_password ? "Change my password" : "Set my password")}
  </section>`;
}

function desktopNote(): TemplateResult {
  return html`<p class="muted">
    This window is Hearth itself, on this computer: it needs no sign-in. To see or end the browsers signed in to this hub, open
    Hearth in a browser, or run <code>hearth sessions</code>.
  </p>`;
}

function signIns(s: AppState, a: Actions): TemplateResult {
  const state = s.signIns;
  if (state?.error) return html`<div class="error-panel" role="alert"><p>${state.error.message}</p></div>`;
  if (!state?.data) return html`<p class="loading" aria-busy="true">Loading…</p>`;
  const sessions = state.data;
  // "Everywhere else" signs out the asker's own other browsers (an owner also sees everyone's).
  const mine = s.me?.member.id;
  const others = sessions.filter((x) => !x.current && (mine === undefined || x.member === mine)).length;
  return html`<p class="muted">
      The browsers where you are signed in to Hearth${s.me?.member.role === "owner" ? ", and where the others in the household are" : ""}. If you don't recognise one, or no longer use it, sign it out: it stops
      working at once. To sign in again, open a new link from <code>hearth open</code> on the hub.
    </p>
    <ul class="sessions plain" aria-label="Browsers signed in">
      ${repeat(
        sessions,
        (x) => x.id,
        (x) => sessionRow(s, a, x),
      )}
    </ul>
    ${others > 0
      ? html`<p>
          <button
            type="button"
            class="btn danger"
            data-testid="sign-out-others"
            aria-disabled=${s.signingOut.has("others") ? "true" : "false"}
            @click=${() => a.signOutOthers()}
          >
            Sign out everywhere else
          </button>
        </p>`
      : nothing}`;
}

function sessionRow(s: AppState, a: Actions, x: BrowserSession): TemplateResult {
  const busy = s.signingOut.has(x.id);
  const someoneElse = s.me && x.member !== s.me.member.id ? memberName(s.members, x.member) : undefined;
  const label = x.current
    ? "Sign out of this browser"
    : someoneElse
      ? `Sign out ${someoneElse}'s ${x.browser}, from ${x.address}`
      : `Sign out ${x.browser}, from ${x.address}`;
  return html`<li class="session" data-testid="session" data-session-id=${x.id} data-current=${x.current ? "true" : "false"}>
    <div class="session-what">
      <strong>${x.browser}</strong>${someoneElse ? html` <span class="tag" data-testid="session-member">${someoneElse}</span>` : nothing}${x.current ? html` <span class="badge" data-testid="this-browser">This browser</span>` : nothing}
      <div class="muted">
        from ${x.address} · last used
        <time datetime=${new Date(x.last_used).toISOString()} title=${absoluteTime(x.last_used)}>${relativeTime(x.last_used, s.now)}</time>
        · signed in
        <time datetime=${new Date(x.signed_in_at).toISOString()} title=${absoluteTime(x.signed_in_at)}
          >${relativeTime(x.signed_in_at, s.now)}</time
        >
      </div>
    </div>
    <button
      type="button"
      class="btn"
      data-testid="sign-out"
      aria-label=${label}
      aria-disabled=${busy ? "true" : "false"}
      @click=${() => a.signOut(x)}
    >
      Sign out
    </button>
  </li>`;
}
