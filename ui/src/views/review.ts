// The device page's "What it sends": the ledger's review of one device (kinds of data, topics,
// fields with their latest values, refusals) with a chart over time, and its privacy controls:
// how long each kind is kept, and fields removed from its messages.

import { html, nothing, type TemplateResult } from "lit-html";
import { live } from "lit-html/directives/live.js";
import type { Category } from "../generated/Category";
import type { Device } from "../generated/Device";
import type { DropReason } from "../generated/DropReason";
import type { DeviceReview } from "../generated/DeviceReview";
import type { PrivacySettings } from "../generated/PrivacySettings";
import type { FieldReview } from "../generated/FieldReview";
import type { TopicReview } from "../generated/TopicReview";
import { DROP_REASONS, plural } from "../model";
import {
  CATEGORY_LABELS,
  CATEGORY_MEANING,
  interval,
  RANGES,
  RETENTION_CHOICES,
  retentionValue,
  size,
} from "../review-model";
import type { Actions, AppState, DetailState } from "../state";
import { chartAttribute, type ChartSeries } from "./chart";


/** The ranges a review can look back over, as buttons (the device page's and the home's). */
export function rangeButtons(s: AppState, a: Actions): TemplateResult {
  return html`<div class="range" role="group" aria-label="Time range">
    ${RANGES.map(
      (r) => html`<button type="button" class="btn quiet" aria-pressed=${r.since === s.reviewRange} @click=${() => a.setReviewRange(r.since)}>
        ${r.label}
      </button>`,
    )}
  </div>`;
}

export function reviewSection(s: AppState, a: Actions, d: Device, detail: DetailState): TemplateResult {
  const range = RANGES.find((r) => r.since === s.reviewRange) ?? RANGES[2];
  return html`<section class="panel review" aria-labelledby="h-review" data-testid="review">
    <div class="review-head">
      <h2 id="h-review">What it sends</h2>
      ${rangeButtons(s, a)}
    </div>
    ${detail.reviewError
      ? html`<p class="warn-text" role="alert">${detail.reviewError.message}</p>`
      : detail.review
        ? loaded(s, a, d, detail.review, detail.privacy, range.label.toLowerCase())
        : html`<p class="loading" aria-busy="true">Loading…</p>`}
  </section>`;
}

function loaded(s: AppState, a: Actions, d: Device, r: DeviceReview, privacy: PrivacySettings | undefined, rangeLabel: string): TemplateResult {
  const busy = s.busy.has(d.id);
  if (r.messages === 0) {
    return html`<p class="muted" data-testid="review-empty">
        Nothing recorded in the ${rangeLabel.replace(/^last /, "last ")}. Once ${d.name} publishes through Hearth's broker, what it sends
        appears here: which kinds of data, on which topics and fields, how often and how much.
      </p>
      ${privacy ? privacyControls(a, d, privacy, busy, s.csvExport) : nothing}`;
  }
  const kinds = r.categories.map((c) => CATEGORY_LABELS[c.category].toLowerCase());
  return html`<p data-testid="review-summary">
      <strong>${d.name}</strong> sent ${plural(r.messages, "message", "messages")} (${size(r.bytes)}) in the ${rangeLabel}:
      ${kinds.join(", ")}.${r.refused ? html` <span class="refused">${r.refused} refused.</span>` : nothing}${r.redacted
        ? html` ${r.redacted} redacted.`
        : nothing}
    </p>
    <div class="chart-box">
      <canvas
        data-chart=${chartAttribute(series(r))}
        role="img"
        aria-label=${`Messages per ${r.bucket_ms > 3_600_000 ? "day" : "hour"}, and how many carried each kind of data; the table below lists the totals`}
      ></canvas>
    </div>
    ${kindsTable(a, d, r, privacy, busy)} ${topicsTable(a, d, r.topics, privacy, busy)}
    ${r.refusals.length
      ? html`<h3>Refused</h3>
          <ul class="plain" data-testid="refusals">
            ${r.refusals.map((x) => html`<li>${plural(x.count, "message", "messages")}: ${DROP_REASONS[x.reason as DropReason] ?? x.reason}</li>`)}
          </ul>`
      : nothing}
    ${privacy ? privacyControls(a, d, privacy, busy, s.csvExport) : nothing}`;
}

/** Every bucket of the range, so that quiet hours show as gaps. The bars are messages, each
 *  counted once (they add up to the count above); each kind is a line of the messages that
 *  carried it, drawn over the bars, never stacked: a message carrying two kinds (a Tasmota
 *  report is energy and identifiers) is on both lines, so the lines together are more than was
 *  sent. */
function series(r: DeviceReview): ChartSeries {
  const from = r.since - (r.since % 3_600_000);
  const starts: number[] = [];
  for (let at = from; at <= r.until; at += r.bucket_ms) starts.push(at);
  const daily = r.bucket_ms > 3_600_000;
  const longRange = r.until - r.since > 86_400_000;
  const label = (at: number) =>
    new Date(at).toLocaleString(undefined, daily ? { month: "short", day: "numeric" } : longRange ? { weekday: "short", hour: "2-digit" } : { hour: "2-digit", minute: "2-digit" });
  const index = new Map(starts.map((at, i) => [at, i]));
  const perBucket = (buckets: { at: number; messages: number }[]) => {
    const data = new Array<number>(starts.length).fill(0);
    for (const b of buckets) {
      const i = index.get(b.at);
      if (i !== undefined) data[i] = (data[i] ?? 0) + b.messages;
    }
    return data;
  };
  const kinds = r.categories.map((c) => ({
    label: `With ${CATEGORY_LABELS[c.category].toLowerCase()}`,
    data: perBucket(r.buckets.filter((b) => b.category === c.category)),
    color: `--cat-${c.category}`,
    draw: "line" as const,
  }));
  const messages = { label: "Messages", data: perBucket(r.totals), color: "--muted", draw: "bar" as const };
  return { labels: starts.map(label), datasets: [messages, ...kinds], unit: "messages" };
}

function kindsTable(a: Actions, d: Device, r: DeviceReview, privacy: PrivacySettings | undefined, busy: boolean): TemplateResult {
  return html`<div class="table-wrap">
    <table class="cards" data-testid="kinds">
      <caption>Kinds of data, most sensitive first</caption>
      <thead>
        <tr>
          <th scope="col">Kind</th>
          <th scope="col">Messages</th>
          <th scope="col">Size</th>
          <th scope="col">Fields</th>
          <th scope="col">Hearth keeps</th>
        </tr>
      </thead>
      <tbody>
        ${r.categories.map(
          (c) => html`<tr data-testid="kind" data-category=${c.category}>
            <th scope="row">
              <span class="swatch" data-category=${c.category} aria-hidden="true"></span>${CATEGORY_LABELS[c.category]}
              <span class="muted small">${CATEGORY_MEANING[c.category]}</span>
            </th>
            <td data-label="Messages">${c.messages}</td>
            <td data-label="Size">${size(c.bytes)}</td>
            <td data-label="Fields">${c.fields.length ? c.fields.map((f, i) => html`${i ? ", " : ""}<code>${f}</code>`) : html`<span class="muted">—</span>`}</td>
            <td data-label="Hearth keeps">${privacy ? retentionSelect(a, d, c.category, privacy, busy) : nothing}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function retentionSelect(a: Actions, d: Device, category: Category, privacy: PrivacySettings, busy: boolean): TemplateResult {
  const current = privacy.retention.find((r) => r.category === category);
  const value = current?.chosen ? retentionValue(current.retention) : "default";
  const defaultLabel = current && !current.chosen ? RETENTION_CHOICES.find((c) => c.value === retentionValue(current.retention))?.label : undefined;
  // Asked first (keeping less deletes history at once). `live`: if the person cancels, the next
  // render puts the list back on what Hearth keeps, though nothing in the state changed.
  return html`<select
    aria-label=${`How long Hearth keeps ${CATEGORY_LABELS[category].toLowerCase()} data of ${d.name}`}
    data-testid="retention"
    ?disabled=${busy}
    @change=${(e: Event) => {
      const select = e.currentTarget as HTMLSelectElement;
      const v = select.value;
      const retention = v === "default" ? null : (RETENTION_CHOICES.find((c) => c.value === v)?.retention ?? null);
      a.askConfirm({ kind: "retention", device: d, category, retention, current }, select);
    }}
  >
    <option value="default" .selected=${live(value === "default")}>Default${defaultLabel ? ` (${defaultLabel.toLowerCase()})` : ""}</option>
    ${RETENTION_CHOICES.map((c) => html`<option value=${c.value} .selected=${live(value === c.value)}>${c.label}</option>`)}
  </select>`;
}

function topicsTable(a: Actions, d: Device, topics: TopicReview[], privacy: PrivacySettings | undefined, busy: boolean): TemplateResult {
  return html`<h3>Topics and fields</h3>
    ${topics.map(
      (t) => html`<div class="topic-review" data-testid="topic-review" data-topic=${t.topic}>
        <p>
          <code>${t.topic}</code>
          <span class="muted"
            >${plural(t.messages, "message", "messages")}, ${size(t.bytes)}${t.every_ms !== null ? `, about every ${interval(t.every_ms)}` : ""} ·
            ${t.content_type}</span
          >
        </p>
        ${t.fields.length
          ? html`<ul class="fields">
              ${t.fields.map(
                (f) => html`<li data-testid="field" data-path=${f.path}>
                  <span class="swatch" data-category=${f.category} aria-hidden="true"></span>
                  <code>${f.path}</code> <span class="muted">${f.value_type}, ${CATEGORY_LABELS[f.category].toLowerCase()}</span>
                  ${fieldValue(a, d, f, privacy, busy)}
                </li>`,
              )}
            </ul>`
          : html`<p class="muted">No fields kept for this topic.</p>`}
      </div>`,
    )}`;
}

/** A field's latest value; or that it is redacted (removed from every message: a person chose
 *  it, and may undo it here); or that its kind keeps no values. */
function fieldValue(a: Actions, d: Device, f: FieldReview, privacy: PrivacySettings | undefined, busy: boolean): TemplateResult {
  if (privacy?.redact.includes(f.path)) {
    return html`<strong class="tag redacted" data-testid="field-redacted">Redacted</strong>
      <button
        type="button"
        class="btn quiet small"
        data-testid="undo-redact"
        aria-label=${`Undo: keep ${f.path} again`}
        aria-disabled=${busy}
        @click=${() => !busy && a.setRedaction(d, f.path, false)}
      >
        Undo
      </button>`;
  }
  return html`${f.example !== null ? html`= <code class="example">${f.example}</code>` : html`<span class="muted">(value not kept)</span>`}
  ${privacy && f.path !== "$"
    ? html`<button type="button" class="btn quiet small" aria-disabled=${busy} @click=${() => !busy && a.setRedaction(d, f.path, true)}>
        Redact<span class="sr-only"> ${f.path}</span>
      </button>`
    : nothing}`;
}

/** `csv`: whether this page can save the messages as CSV (a browser; the desktop saves JSON). */
function privacyControls(a: Actions, d: Device, privacy: PrivacySettings, busy: boolean, csv: boolean): TemplateResult {
  return html`<div class="privacy" data-testid="privacy">
    <h3>Redacted fields</h3>
    ${privacy.redact.length
      ? html`<p class="muted">Removed from ${d.name}'s messages before Hearth stores them or delivers them to any other device.</p>
          <ul class="plain">
            ${privacy.redact.map(
              (path) => html`<li data-testid="redacted" data-path=${path}>
                <code>${path}</code>
                <button type="button" class="btn quiet small" aria-disabled=${busy} @click=${() => !busy && a.setRedaction(d, path, false)}>
                  Keep again<span class="sr-only"> ${path}</span>
                </button>
              </li>`,
            )}
          </ul>`
      : html`<p class="muted">None. "Redact" next to a field removes it from every message before it is stored or delivered.</p>`}
    <div class="actions">
      <button type="button" class="btn" data-testid="export-json" @click=${() => a.exportDevice(d, "json")}>Export everything (JSON)</button>
      ${csv
        ? html`<button type="button" class="btn" data-testid="export-csv" @click=${() => a.exportDevice(d, "csv")}>Export messages (CSV)</button>`
        : nothing}
    </div>
  </div>`;
}
