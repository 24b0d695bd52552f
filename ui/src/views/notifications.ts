// Notifications: the one banner on screen (the newest news or error, on one line, so that it
// never pushes the device list down), the bell in the header with how many are unread, and the
// history page listing what every banner said, newest first.

import { html, nothing, svg, type TemplateResult } from "lit-html";
import { HISTORY_LIMIT, type Shown } from "../notifications";
import type { Actions, AppState } from "../state";
import { NEWS_LOOK, newsBody } from "./news";
import { when } from "./parts";

/** The newest of what waits (errors and news alike; ids grow with time), with how many more. */
export function banner(s: AppState, a: Actions): TemplateResult | typeof nothing {
  const waiting: Shown[] = [...s.notices.map((n) => ({ id: n.id, kind: "error" as const, error: n.error })), ...s.news].sort((x, y) => x.id - y.id);
  const shown = waiting.at(-1);
  if (!shown) return nothing;
  const more = waiting.length - 1;
  const error = shown.kind === "error";
  const look = NEWS_LOOK[shown.kind];
  return html`<div class="notices" role=${error ? "alert" : "status"}>
    <div class="banner notice one-line ${error ? "error" : "news"}" data-testid=${look.testid} data-code=${error ? shown.error.code : nothing}>
      <span class="banner-icon" aria-hidden="true">${look.icon}</span>
      <div class="banner-line">${newsBody(shown)}</div>
      ${more > 0
        ? html`<a class="banner-more" href="#/notifications" data-testid="more-news">${more} more<span class="sr-only"> notifications</span></a>`
        : nothing}
      <button
        type="button"
        class="btn quiet"
        aria-label="Dismiss this message"
        @click=${() => (error ? a.dismissNotice(shown.id) : a.dismissNews(shown.id))}
      >
        ✕
      </button>
    </div>
  </div>`;
}

const bellIcon = html`<svg viewBox="0 0 24 24" width="22" height="22" fill="none" stroke="currentColor" stroke-width="1.8"
  stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">${svg`<path d="M6 16v-5a6 6 0 0 1 12 0v5l2 2H4l2-2zM10 21h4"/>`}</svg>`;

/** The bell: a link to the history, saying how many entries the person has not seen. */
export function bell(s: AppState): TemplateResult {
  const unread = s.notifications.unread;
  return html`<a
    href="#/notifications"
    class="bell"
    data-testid="nav-notifications"
    aria-label=${unread ? `Notifications, ${unread} unread` : "Notifications"}
    aria-current=${s.route.name === "notifications" ? "page" : nothing}
    >${bellIcon}${unread ? html`<span class="bell-count" data-testid="unread" aria-hidden="true">${unread > 99 ? "99+" : unread}</span>` : nothing}</a
  >`;
}

export function notificationsPage(s: AppState, a: Actions): TemplateResult {
  const { entries, seenAt } = s.notifications;
  return html`<section class="page" aria-labelledby="page-title" data-testid="notifications">
    <div class="page-head">
      <h1 id="page-title" tabindex="-1">Notifications</h1>
      <p class="summary">What the banners said, newest first. This browser keeps the last ${HISTORY_LIMIT}.</p>
    </div>
    ${entries.length === 0
      ? html`<div class="panel empty" role="status" data-testid="no-notifications">
          <h2>Nothing yet</h2>
          <p class="hint">
            When a device starts sending something new, looks up a name for the first time, or Hearth has a question for you, it is
            listed here, even after the banner is gone.
          </p>
        </div>`
      : html`<ol class="panel notification-list">
            ${entries.map(
              (e) => html`<li class="notification" data-testid="notification" data-kind=${e.item.kind} data-new=${e.at > seenAt ? "true" : "false"}>
                <span class="banner-icon" aria-hidden="true">${NEWS_LOOK[e.item.kind].icon}</span>
                <div>
                  <p>${newsBody(e.item)}</p>
                  <p class="muted small">
                    ${when(e.at, s.now)}${e.at > seenAt ? html` · <strong class="new-word">new</strong>` : nothing}
                  </p>
                </div>
              </li>`,
            )}
          </ol>
          <button type="button" class="btn" data-testid="clear-notifications" @click=${() => a.clearNotifications()}>Clear the history</button>`}
  </section>`;
}
