// The device page's technical parts (credential, rules, services, identity keys, history) under
// one disclosure, closed until a person opens it; whether it is open is remembered in this
// browser, so someone who works there keeps it open.

import { html, type TemplateResult } from "lit-html";

const KEY = "hearth.advanced";

function isOpen(): boolean {
  try {
    return localStorage.getItem(KEY) === "open";
  } catch {
    return false;
  }
}

function remember(e: Event): void {
  try {
    localStorage.setItem(KEY, (e.currentTarget as HTMLDetailsElement).open ? "open" : "closed");
  } catch {
    /* private mode: it is only not remembered */
  }
}

export function advanced(content: TemplateResult): TemplateResult {
  return html`<details class="advanced" data-testid="advanced" ?open=${isOpen()} @toggle=${remember}>
    <summary><h2 class="advanced-title">Advanced</h2><span class="muted">Its credential, rules, network services and history</span></summary>
    ${content}
  </details>`;
}
