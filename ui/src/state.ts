// What the screens render from, and what they can ask for. Views read `AppState` and call
// `Actions`; only `app.ts` changes the state or talks to the backend.

import type { ApiError } from "./generated/ApiError";
import type { Verdict } from "./generated/Verdict";
import type { Device } from "./generated/Device";
import type { DeviceDetail } from "./generated/DeviceDetail";
import type { DeviceId } from "./generated/DeviceId";
import type { Status } from "./generated/Status";
import type { Filters } from "./model";

export type Route = { name: "list" } | { name: "device"; id: DeviceId };

export interface DetailState {
  id: DeviceId;
  data?: DeviceDetail;
  error?: ApiError;
  /** The device went away while its page was open. */
  forgotten?: boolean;
}

export interface Notice {
  id: number;
  error: ApiError;
}

export interface AppState {
  devices: Map<DeviceId, Device>;
  /** The first device list arrived. */
  loaded: boolean;
  /** The device list could not be loaded (shown instead of the list). */
  loadError: ApiError | undefined;
  status: Status | undefined;
  /** The live event stream: not yet attached, attached, or lost and being re-attached. */
  connection: "connecting" | "live" | "reconnecting";
  filters: Filters;
  route: Route;
  detail: DetailState | undefined;
  /** Devices with a decision or forget on its way. */
  busy: Set<DeviceId>;
  /** Errors from actions, shown until dismissed. */
  notices: Notice[];
  /** Read out by screen readers after an action ("Bedroom Speaker is now approved"). */
  announcement: string;
  /** The device the forget dialog asks about. */
  forgetting: Device | undefined;
  /** Re-rendered every so often so "2 min ago" stays true. */
  now: number;
}

export interface Actions {
  setFilters(f: Partial<Filters>): void;
  clearFilters(): void;
  decide(device: Device, decision: Verdict): void;
  askForget(device: Device, trigger: HTMLElement | null): void;
  confirmForget(): void;
  cancelForget(): void;
  dismissNotice(id: number): void;
  retry(): void;
}
