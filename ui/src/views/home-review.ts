// The home's review: which devices send which kinds of data, most sensitive first, and what
// changed (a new field, a new kind of data, a device sending ten times its usual), each linking
// to the device's page where a person can act on it; open questions about whether two records
// are one device, and the announcements Hearth ignored.

import { html, nothing, type TemplateResult } from "lit-html";
import type { Change } from "../generated/Change";
import type { HomeReview } from "../generated/HomeReview";
import { plural } from "../model";
import { CATEGORY_LABELS, RANGES, size } from "../review-model";
import type { Actions, AppState } from "../state";
import { ignoredAnnouncements, openQuestions } from "./identity";
import { rangeButtons } from "./review";

export function homeReviewPage(s: AppState, a: Actions): TemplateResult {
  const range = RANGES.find((r) => r.since === s.reviewRange) ?? RANGES[2];
  return html`<section class="page" aria-labelledby="page-title" data-testid="home-review">
    <nav class="crumbs" aria-label="Breadcrumb"><a href="#/" class="back">← All devices</a></nav>
    <div class="review-head">
      <h1 id="page-title" tabindex="-1">What your devices send</h1>
      ${rangeButtons(s, a)}
    </div>
    ${openQuestions(s, s.identity)}
    ${s.home?.error
      ? html`<div class="panel error-panel" role="alert"><p>${s.home.error.message}</p></div>`
      : s.home?.data
        ? loaded(s, s.home.data, range.label.toLowerCase())
        : html`<p class="loading" aria-busy="true">Loading…</p>`}
    ${ignoredAnnouncements(s, s.identity)}
  </section>`;
}

function name(s: AppState, id: string): string {
  return s.devices.get(id)?.name ?? id;
}

function loaded(s: AppState, r: HomeReview, rangeLabel: string): TemplateResult {
  if (r.devices.length === 0) {
    return html`<div class="panel empty" role="status">
      <p>No device published anything through Hearth's broker in the ${rangeLabel}.</p>
      <p class="muted">Give a device its MQTT credential (on its page) and point it at Hearth: what it sends will be reviewed here.</p>
    </div>`;
  }
  return html`${r.changes.length
      ? html`<div class="panel changes" data-testid="changes" role="region" aria-label="What changed">
          <h2>What changed</h2>
          <ul class="plain">
            ${r.changes.map((c) => html`<li data-testid="change" data-kind=${c.kind}>${change(s, c)}</li>`)}
          </ul>
        </div>`
      : nothing}
    <div class="panel">
      <div class="table-wrap">
        <table class="cards">
          <caption>Devices by what they send in the ${rangeLabel}, most sensitive first</caption>
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">Kinds of data</th>
              <th scope="col">Messages</th>
              <th scope="col">Size</th>
            </tr>
          </thead>
          <tbody>
            ${r.devices.map(
              (d) => html`<tr data-testid="home-device" data-device-id=${d.device_id}>
                <th scope="row"><a href=${`#/devices/${encodeURIComponent(d.device_id)}`}>${d.name}</a></th>
                <td data-label="Kinds of data">
                  ${d.categories.map(
                    (c) => html`<span class="chip"
                      ><span class="swatch" data-category=${c} aria-hidden="true"></span>${CATEGORY_LABELS[c]}</span
                    > `,
                  )}
                </td>
                <td data-label="Messages">${d.messages}</td>
                <td data-label="Size">${size(d.bytes)}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
    </div>`;
}

function change(s: AppState, c: Change): TemplateResult {
  const link = (id: string) => html`<a href=${`#/devices/${encodeURIComponent(id)}`}>${name(s, id)}</a>`;
  switch (c.kind) {
    case "new_field":
      return html`${link(c.device_id)} started sending <code>${c.path}</code> (${CATEGORY_LABELS[c.category].toLowerCase()}) on <code>${c.topic}</code>.`;
    case "new_category":
      return html`${link(c.device_id)} sends ${CATEGORY_LABELS[c.category].toLowerCase()} data, which it did not in the four weeks before.`;
    case "more_than_usual":
      return html`${link(c.device_id)} sent ${plural(c.last_day, "message", "messages")} in the last day, against ${c.usual_per_day} on a usual day.`;
  }
}
