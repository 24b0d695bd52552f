// Where an invitation lands (signed in): "Welcome, Kim", and choosing a password so that the
// next sign-in needs no link. The same password form is on the settings page.

import { html, nothing, type TemplateResult } from "lit-html";
import { ROLE_FOR_YOU, ROLE_IN_A_SENTENCE } from "../family-model";
import type { Actions, AppState } from "../state";

/** The hub's own minimum (`family::passwords`); it checks again and says what else is wrong. */
const MIN_CHARS = 10;

export function welcomePage(s: AppState, a: Actions): TemplateResult {
  const me = s.me?.member;
  if (!me) {
    return html`<section class="page welcome-page" aria-labelledby="page-title">
      <h1 id="page-title" tabindex="-1">Welcome</h1>
      <p class="loading" aria-busy="true">Loading…</p>
    </section>`;
  }
  return html`<section class="page welcome-page" aria-labelledby="page-title" data-testid="welcome">
    <h1 id="page-title" tabindex="-1">Welcome, ${me.name}</h1>
    <div class="panel">
      <p>
        You are signed in to Hearth, the hub that looks after this home's devices, as
        <strong>${ROLE_IN_A_SENTENCE[me.role]}</strong>: ${ROLE_FOR_YOU[me.role]}.
      </p>
      ${s.password.done
        ? html`<p id="password-done" tabindex="-1" data-testid="password-done" role="status">
              <strong>Your password is set.</strong> Next time, sign in with your name, ${me.name}, and this password.
            </p>
            <p><a class="btn primary" href="#/" data-testid="to-devices">Go to the devices</a></p>`
        : html`<p>
              Choose a password so you can sign in again from this browser or another one, without a new invitation. The
              invitation link you opened works only once.
            </p>
            ${passwordForm(s, a, me.has_password, "Set my password")}
            <p><a href="#/" data-testid="skip">Skip for now</a> <span class="muted">(you can set it later in Settings)</span></p>`}
    </div>
  </section>`;
}

/** New password twice (and the current one, once they have one). Errors are said beside it. */
export function passwordForm(s: AppState, a: Actions, hasPassword: boolean, submitLabel: string): TemplateResult {
  const p = s.password;
  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    if (p.busy) return;
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const password = String(data.get("password") ?? "");
    const again = String(data.get("again") ?? "");
    const current = hasPassword ? String(data.get("current") ?? "") : null;
    if ([...password].length < MIN_CHARS) return a.family.passwordProblem(`A password needs at least ${MIN_CHARS} characters.`);
    if (password !== again) return a.family.passwordProblem("The two passwords are not the same: type it again.");
    void a.family.setPassword(password, current).then((done) => {
      if (done) form.reset();
    });
  };
  return html`<form class="password-form" data-testid="password-form" @submit=${submit}>
    ${hasPassword
      ? html`<label
          >Your current password
          <input type="password" name="current" autocomplete="current-password" required maxlength="256" data-testid="current-password"
        /></label>`
      : nothing}
    <label
      >${hasPassword ? "New password" : "Password"} <span class="muted">(at least ${MIN_CHARS} characters)</span>
      <input
        type="password"
        name="password"
        autocomplete="new-password"
        required
        minlength=${MIN_CHARS}
        maxlength="256"
        data-testid="new-password"
        aria-describedby=${p.error ? "password-error" : nothing}
      />
    </label>
    <label
      >The same again
      <input type="password" name="again" autocomplete="new-password" required maxlength="256" data-testid="repeat-password" />
    </label>
    ${p.error
      ? html`<p id="password-error" class="warn-text" role="alert" tabindex="-1" data-testid="password-error">${p.error}</p>`
      : nothing}
    <p><button type="submit" class="btn primary" aria-disabled=${p.busy ? "true" : "false"}>${submitLabel}</button></p>
  </form>`;
}
