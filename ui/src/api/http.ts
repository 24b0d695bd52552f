// The browser transport: JSON over fetch to `/api/v1` on the page's own origin (the session
// cookie goes along), and the live stream over a WebSocket at `/api/v1/events`.

import type { AddedDevice } from "../generated/AddedDevice";
import type { DeviceExport } from "../generated/DeviceExport";
import type { DeviceReview } from "../generated/DeviceReview";
import type { HomeReview } from "../generated/HomeReview";
import type { PrivacySettings } from "../generated/PrivacySettings";
import type { BrokerView } from "../generated/BrokerView";
import type { IssuedCredential } from "../generated/IssuedCredential";
import type { Verdict } from "../generated/Verdict";
import type { Device } from "../generated/Device";
import type { DeviceDetail } from "../generated/DeviceDetail";
import type { DeviceId } from "../generated/DeviceId";
import type { ErrorCode } from "../generated/ErrorCode";
import type { Event } from "../generated/Event";
import type { Status } from "../generated/Status";
import type { BrowserSession } from "../generated/BrowserSession";
import type { SessionsEnded } from "../generated/SessionsEnded";
import type { IdentityReview } from "../generated/IdentityReview";
import type { HomeNetwork } from "../generated/HomeNetwork";
import type { NetworkView } from "../generated/NetworkView";
import type { Backend } from "./backend";
import { BackendError, isApiError } from "./errors";

const API = "/api/v1";

/** Reconnect delays: 0.5 s doubling up to 30 s, with jitter so many tabs don't stampede. */
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;

function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 429:
      return "too_many_requests";
    case 503:
      return "unavailable";
    default:
      return "internal";
  }
}

async function request<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
  const response = await send(method, path, body, "application/json");
  if (response.status === 204) return undefined as T;
  try {
    return (await response.json()) as T;
  } catch {
    throw new BackendError("internal", "The hub sent an answer this page cannot read. Reload the page; if it persists, the UI and the hub may be from different versions.");
  }
}

/** An answer that is not JSON (a CSV export). */
async function requestText(method: "GET", path: string): Promise<string> {
  return (await send(method, path, undefined, "text/csv")).text();
}

/** The request; an error answer becomes a `BackendError` with the hub's own message. */
async function send(method: "GET" | "POST" | "DELETE", path: string, body: unknown, accept: string): Promise<Response> {
  const headers: Record<string, string> = { Accept: accept };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // The hub refuses cookie-authenticated changes without this header (its CSRF guard): a
  // cross-site page cannot add a custom header without a preflight the hub never grants.
  if (method !== "GET") headers["X-Hearth-Request"] = "1";
  let response: Response;
  try {
    response = await fetch(API + path, {
      method,
      headers,
      credentials: "same-origin",
      cache: "no-store",
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    throw new BackendError("unavailable", "Cannot reach the hub. Check that it is still running and that this device is on the home network, then try again.");
  }
  if (!response.ok) {
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    if (isApiError(body)) throw new BackendError(body.code, body.message);
    throw new BackendError(codeForStatus(response.status), `The hub answered ${response.status} ${response.statusText || ""}`.trim() + ".");
  }
  return response;
}

function isEvent(v: unknown): v is Event {
  return typeof v === "object" && v !== null && typeof (v as { type?: unknown }).type === "string";
}

/** One WebSocket shared by all subscribers, reconnecting with backoff while anyone listens. */
class EventStream {
  private readonly listeners = new Set<(e: Event) => void>();
  private readonly connectionListeners = new Set<(connected: boolean) => void>();
  private socket: WebSocket | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private connected = false;

  constructor() {
    // Coming back online or to the tab: don't wait out the backoff.
    window.addEventListener("online", () => this.reconnectNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    });
  }

  subscribe(cb: (e: Event) => void): () => void {
    this.listeners.add(cb);
    if (this.listeners.size === 1) this.open();
    return () => {
      this.listeners.delete(cb);
      if (this.listeners.size === 0) this.close();
    };
  }

  onConnection(cb: (connected: boolean) => void): () => void {
    this.connectionListeners.add(cb);
    cb(this.connected);
    return () => this.connectionListeners.delete(cb);
  }

  private url(): string {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}${API}/events`;
  }

  private open(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.socket) return;
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.url());
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.setConnected(true);
      // Whatever happened while we were not attached (or between the first list load and
      // now) is unknown: tell subscribers to reload.
      this.emit({ type: "resync" });
    };
    socket.onmessage = (message) => {
      if (typeof message.data !== "string") return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(message.data);
      } catch {
        return;
      }
      if (isEvent(parsed)) this.emit(parsed);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.setConnected(false);
      if (this.listeners.size > 0) void this.retryUnlessSignedOut();
    };
    // An error is always followed by close; the retry happens there.
    socket.onerror = () => {};
  }

  /** A browser never shows why a WebSocket upgrade failed, so ask the API: if the session has
   * expired, reloading brings up the hub's sign-in page instead of retrying forever. */
  private async retryUnlessSignedOut(): Promise<void> {
    try {
      const probe = await fetch(`${API}/status`, { credentials: "same-origin", cache: "no-store" });
      if (probe.status === 401) {
        location.reload();
        return;
      }
    } catch {
      // The hub is unreachable: keep retrying with backoff.
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    this.attempt += 1;
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.open();
    }, delay);
  }

  private reconnectNow(): void {
    if (this.listeners.size === 0 || this.socket) return;
    this.attempt = 0;
    this.open();
  }

  private close(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    socket?.close();
    this.setConnected(false);
  }

  private setConnected(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    for (const cb of this.connectionListeners) cb(connected);
  }

  private emit(e: Event): void {
    for (const cb of this.listeners) {
      try {
        cb(e);
      } catch (err) {
        console.error("event listener failed", err);
      }
    }
  }
}

export function httpBackend(): Backend {
  const stream = new EventStream();
  const path = (id: DeviceId) => `/devices/${encodeURIComponent(id)}`;
  return {
    signIns: {
      list: () => request<BrowserSession[]>("GET", "/sessions"),
      end: (id) => request<void>("DELETE", `/sessions/${encodeURIComponent(id)}`),
      endOthers: () => request<SessionsEnded>("DELETE", "/sessions"),
    },
    status: () => request<Status>("GET", "/status"),
    devices: () => request<Device[]>("GET", "/devices"),
    device: (id) => request<DeviceDetail>("GET", path(id)),
    decide: (id, decision: Verdict) => request<Device>("POST", `${path(id)}/${decision}`),
    forget: (id) => request<void>("DELETE", path(id)),
    addDevice: (name) => request<AddedDevice>("POST", "/devices", { name }),
    brokerView: (id) => request<BrokerView>("GET", `${path(id)}/broker`),
    credential: (id, action) => request<IssuedCredential | null>("POST", `${path(id)}/credential`, { action }),
    setTopicRule: (id, rule) => request<BrokerView>("POST", `${path(id)}/topics`, rule),
    bindClientId: (id, clientId) => request<BrokerView>("POST", `${path(id)}/client-id`, { client_id: clientId }),
    setAnonymous: (id, access) => request<BrokerView>("POST", `${path(id)}/anonymous`, access),
    giveEntity: (id, claim) => request<BrokerView>("POST", `${path(id)}/entities`, claim),
    identityReview: () => request<IdentityReview>("GET", "/identity"),
    answerMerge: (id, req) => request<DeviceDetail>("POST", `${path(id)}/merge`, req),
    review: (id, since) => request<DeviceReview>("GET", `${path(id)}/review?since=${encodeURIComponent(since)}`),
    homeReview: (since) => request<HomeReview>("GET", `/review?since=${encodeURIComponent(since)}`),
    privacy: (id) => request<PrivacySettings>("GET", `${path(id)}/privacy`),
    setRetention: (id, req) => request<PrivacySettings>("POST", `${path(id)}/privacy/retention`, req),
    setRedaction: (id, req) => request<PrivacySettings>("POST", `${path(id)}/privacy/redactions`, req),
    exportDevice: (id) => request<DeviceExport>("GET", `${path(id)}/export`),
    exportCsv: (id) => requestText("GET", `${path(id)}/export.csv`),
    network: (id) => request<NetworkView>("GET", `${path(id)}/network`),
    setInternetLevel: (id, level) => request<NetworkView>("POST", `${path(id)}/network/level`, { level }),
    setDomain: (id, req) => request<NetworkView>("POST", `${path(id)}/network/destinations`, req),
    allowWaiting: (id) => request<NetworkView>("POST", `${path(id)}/network/allow-waiting`),
    homeNetwork: () => request<HomeNetwork>("GET", "/network"),
    exportFirewall: (format) => request<string>("GET", `/network/export?format=${encodeURIComponent(format)}`),
    onEvent: (cb) => stream.subscribe(cb),
    onConnection: (cb) => stream.onConnection(cb),
  };
}
