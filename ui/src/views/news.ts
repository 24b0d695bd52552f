// What a piece of news says, the same in the banner and in the notification history: a device
// that started sending something new, a question about two records, a name looked up for the
// first time, or an error from something the person did.

import { html, type TemplateResult } from "lit-html";
import type { Change } from "../generated/Change";
import { CATEGORY_LABELS } from "../review-model";
import type { Shown } from "../notifications";
import { questionNews } from "./identity";

/** How each kind looks: its test id (the stories find banners by it) and its icon. */
export const NEWS_LOOK: Record<Shown["kind"], { testid: string; icon: string }> = {
  change: { testid: "news", icon: "●" },
  question: { testid: "question-news", icon: "?" },
  destination: { testid: "destination-news", icon: "→" },
  error: { testid: "error", icon: "⚠" },
};

export function newsBody(n: Shown): TemplateResult {
  switch (n.kind) {
    case "question":
      return questionNews(n.proposal);
    case "destination":
      return html`${deviceLink(n.deviceId, n.deviceName)} looked up <code>${n.name}</code> for the first time. Allow or deny it on
        its page.`;
    case "change":
      return changeNews(n.name, n.change);
    case "error":
      return html`${n.error.message}`;
  }
}

function deviceLink(id: string, name: string): TemplateResult {
  return html`<a href=${`#/devices/${encodeURIComponent(id)}`}>${name}</a>`;
}

function changeNews(name: string, change: Change): TemplateResult {
  const link = deviceLink(change.device_id, name);
  const what =
    change.kind === "new_field"
      ? html`${link} started sending <code>${change.path}</code> (${CATEGORY_LABELS[change.category].toLowerCase()}) on <code>${change.topic}</code>.`
      : change.kind === "new_category"
        ? html`${link} started sending ${CATEGORY_LABELS[change.category].toLowerCase()} data.`
        : html`${link} sent ${change.last_day} messages in a day, against ${change.usual_per_day} usually.`;
  return html`${what} Keep it, limit how long, or redact it on its page.`;
}
