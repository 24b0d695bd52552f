// The browser transport: JSON over fetch to `/api/v1` on the page's own origin (the session
// cookie goes along), and the live stream over a WebSocket at `/api/v1/events`. Every command
// goes where the hub's table (`ROUTES`) says; the few endpoints that are not commands (signing
// browsers out, the CSV export) are named here.

import { ROUTES } from "../generated/commands";
import type { ErrorCode } from "../generated/ErrorCode";
import type { Event } from "../generated/Event";
import type { SessionsEnded } from "../generated/SessionsEnded";
import type { CommandArgs, CommandName, CommandResult, Transport } from "./backend";
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
  if (response.status === 204) return null as T;
  try {
    return (await response.json()) as T;
  } catch {
    throw new BackendError("internal", "The hub sent an answer this page cannot read. Reload the page; if it persists, the UI and the hub may be from different versions.");
  }
}

/**
 * One of the hub's commands over HTTP: `{field}` parts of its path are filled from the arguments;
 * the rest go in the query string (GET, DELETE; null ones left out) or are the JSON body (POST),
 * unless the command takes one argument whole as its body.
 */
async function call<N extends CommandName>(name: N, args: CommandArgs<N>): Promise<CommandResult<N>> {
  const route = ROUTES[name];
  const rest: Record<string, unknown> = { ...(args as Record<string, unknown>) };
  const path = route.path.replace(/\{(\w+)\}/g, (_, field: string) => {
    const value = rest[field];
    delete rest[field];
    return encodeURIComponent(String(value));
  });
  if (route.method === "POST") {
    const body = route.body === null ? rest : rest[route.body];
    return request<CommandResult<N>>("POST", path, body === undefined ? null : body);
  }
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(rest)) {
    if (value !== null && value !== undefined) query.set(key, String(value));
  }
  const search = query.size > 0 ? `?${query.toString()}` : "";
  return request<CommandResult<N>>(route.method, path + search);
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

export function httpTransport(): Transport {
  const stream = new EventStream();
  return {
    call,
    signIns: {
      list: () => call("sessions", {}),
      // Not commands (they may clear this browser's cookie): their own routes.
      end: (id) => request<null>("DELETE", `/sessions/${encodeURIComponent(id)}`).then(() => undefined),
      endOthers: () => request<SessionsEnded>("DELETE", "/sessions"),
    },
    // Streamed by the hub, so not a command: its own route.
    exportCsv: (id) => requestText("GET", `/devices/${encodeURIComponent(id)}/export.csv`),
    onEvent: (cb) => stream.subscribe(cb),
    onConnection: (cb) => stream.onConnection(cb),
  };
}
