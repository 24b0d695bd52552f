// The one place that knows how the UI talks to the hub. Everything else uses `Backend`.
//
// Every command the hub declares (`generated/commands.ts`: its name, arguments, answer and
// HTTP route) is called through one `Transport.call(name, args)`:
// - in the desktop app (Tauri), over IPC to the hub embedded in the app: `./tauri`;
// - in a browser, over HTTP to `/api/v1` (events over a WebSocket): `./http`.
// `./client` turns that one call into the typed `Backend` below, once for both transports.
//
// Both reject with a `BackendError` (an `ApiError`: `{code, message}`) so screens can show the
// hub's own words to the person, whatever the transport.

import type { AnonymousAccess } from "../generated/AnonymousAccess";
import type { DeviceExport } from "../generated/DeviceExport";
import type { DeviceReview } from "../generated/DeviceReview";
import type { HomeReview } from "../generated/HomeReview";
import type { PrivacySettings } from "../generated/PrivacySettings";
import type { RedactionRequest } from "../generated/RedactionRequest";
import type { RetentionRequest } from "../generated/RetentionRequest";
import type { AddedDevice } from "../generated/AddedDevice";
import type { BrokerView } from "../generated/BrokerView";
import type { CredentialAction } from "../generated/CredentialAction";
import type { IssuedCredential } from "../generated/IssuedCredential";
import type { TopicRuleRequest } from "../generated/TopicRuleRequest";
import type { Verdict } from "../generated/Verdict";
import type { Device } from "../generated/Device";
import type { DeviceDetail } from "../generated/DeviceDetail";
import type { DeviceId } from "../generated/DeviceId";
import type { Event } from "../generated/Event";
import type { Status } from "../generated/Status";
import type { BrowserSession } from "../generated/BrowserSession";
import type { SessionsEnded } from "../generated/SessionsEnded";
import type { EntityClaim } from "../generated/EntityClaim";
import type { IdentityReview } from "../generated/IdentityReview";
import type { MergeRequest } from "../generated/MergeRequest";
import type { DomainRequest } from "../generated/DomainRequest";
import type { HomeNetwork } from "../generated/HomeNetwork";
import type { InternetLevel } from "../generated/InternetLevel";
import type { NetworkView } from "../generated/NetworkView";
import type { AuditPage } from "../generated/AuditPage";
import type { Commands } from "../generated/commands";
import type { ControlAction } from "../generated/ControlAction";
import type { ControlView } from "../generated/ControlView";
import type { ReadingView } from "../generated/ReadingView";
import type { GrantRequest } from "../generated/GrantRequest";
import type { GrantView } from "../generated/GrantView";
import type { Invitation } from "../generated/Invitation";
import type { Me } from "../generated/Me";
import type { MemberView } from "../generated/MemberView";
import type { Role } from "../generated/Role";
import type { RoomView } from "../generated/RoomView";
import { backendOver } from "./client";
import { httpTransport } from "./http";

export { BackendError, isApiError, toApiError } from "./errors";

/** Where the firewall rules are meant to be loaded (`GET /network/export?format=`). */
export type FirewallFormat = "nft" | "openwrt";

/** Where the owner is signed in, and signing browsers out. */
export interface SignIns {
  /** The browser asking is marked `current`. */
  list(): Promise<BrowserSession[]>;
  /** Signs that browser out at once (for the current one: this page is signed out). */
  end(id: string): Promise<void>;
  /** Signs out every browser but this one. */
  endOthers(): Promise<SessionsEnded>;
}

/** A command's name, its arguments and its answer, as the hub declares them. */
export type CommandName = keyof Commands;
export type CommandArgs<N extends CommandName> = Commands[N]["args"];
export type CommandResult<N extends CommandName> = Commands[N]["result"];

/** What differs between the desktop window and a browser; everything else is `client.ts`. */
export interface Transport {
  /** Runs one of the hub's commands. A command that answers nothing resolves to null. */
  call<N extends CommandName>(name: N, args: CommandArgs<N>): Promise<CommandResult<N>>;
  /** See `Backend.signIns`. */
  readonly signIns: SignIns | undefined;
  /** See `Backend.exportCsv`. */
  readonly exportCsv: ((id: DeviceId) => Promise<string>) | undefined;
  onEvent(cb: (e: Event) => void): () => void;
  onConnection(cb: (connected: boolean) => void): () => void;
}

/** Which rows of the audit to read (`audit`); all optional. */
export interface AuditQuery {
  /** Only what this member did. */
  member?: string | undefined;
  /** Only what concerns this device. */
  device?: DeviceId | undefined;
  /** Only the last `24h`, `7d`, `30d`. */
  since?: string | undefined;
  /** The page older than this row (a page's `next_before`). */
  before?: number | undefined;
}

export interface Backend {
  /**
   * Browser sessions, in a browser only: the desktop window is the owner over IPC and has no
   * session of its own (its people manage sign-ins from a browser or `hearth sessions`).
   */
  readonly signIns: SignIns | undefined;
  /** Who is asking, what they may do on each device they see, and on the home. */
  me(): Promise<Me>;
  status(): Promise<Status>;
  devices(): Promise<Device[]>;
  device(id: DeviceId): Promise<DeviceDetail>;
  decide(id: DeviceId, decision: Verdict): Promise<Device>;
  forget(id: DeviceId): Promise<void>;
  /** Adds a device that does not announce itself, approved, with its first MQTT credential. */
  addDevice(name: string): Promise<AddedDevice>;
  rename(id: DeviceId, name: string): Promise<Device>;
  /** The device's credential (never its secret), live MQTT sessions, manifest and decisions. */
  brokerView(id: DeviceId): Promise<BrokerView>;
  /** Rotate returns the new secret (shown once); revoke returns null. Both disconnect the device. */
  credential(id: DeviceId, action: CredentialAction): Promise<IssuedCredential | null>;
  setTopicRule(id: DeviceId, request: TopicRuleRequest): Promise<BrokerView>;
  /** Binds the credential to one client id (null unbinds); disconnects the device. */
  bindClientId(id: DeviceId, clientId: string | null): Promise<BrokerView>;
  /** Lets a device that cannot use a credential in without one, pinned to its client id (and
   *  address, if given); null ends it. Disconnects the device. */
  setAnonymous(id: DeviceId, access: AnonymousAccess | null): Promise<BrokerView>;
  /** Gives an entity another device described first to this one (that device loses it). */
  giveEntity(id: DeviceId, claim: EntityClaim): Promise<BrokerView>;
  /** Open "are these one device?" questions, and the announcements Hearth ignored. */
  identityReview(): Promise<IdentityReview>;
  /** A person's answer about `id` and `request.other`: the record kept (after a merge, maybe the
   *  other one), or `id`'s own (kept apart). */
  answerMerge(id: DeviceId, request: MergeRequest): Promise<DeviceDetail>;
  /** What the device sent over the last `since` (`1h`, `24h`, `7d`, `30d`), from the ledger. */
  review(id: DeviceId, since: string): Promise<DeviceReview>;
  /** Every device's traffic over the last `since`, most sensitive first, and what changed. */
  homeReview(since: string): Promise<HomeReview>;
  privacy(id: DeviceId): Promise<PrivacySettings>;
  setRetention(id: DeviceId, request: RetentionRequest): Promise<PrivacySettings>;
  setRedaction(id: DeviceId, request: RedactionRequest): Promise<PrivacySettings>;
  /** Everything Hearth holds about the device. */
  exportDevice(id: DeviceId): Promise<DeviceExport>;
  /** Its messages as CSV: in a browser only (the hub streams it over HTTP; the desktop window
   *  has no such command, so it offers the JSON export alone). */
  readonly exportCsv: ((id: DeviceId) => Promise<string>) | undefined;
  /** How far the device may reach beyond the home, the names it looked up, and its rules. */
  network(id: DeviceId): Promise<NetworkView>;
  /** A person's choice of level (ends its learning). */
  setInternetLevel(id: DeviceId, level: InternetLevel): Promise<NetworkView>;
  /** Allows or denies a name (and the names under it) for the device, or removes its rule. */
  setDomain(id: DeviceId, request: DomainRequest): Promise<NetworkView>;
  /** Allows every name waiting for a person, in one step. */
  allowWaiting(id: DeviceId): Promise<NetworkView>;
  /** The DNS gate and firewall, how many devices use Hearth's DNS, who talks to which domains. */
  homeNetwork(): Promise<HomeNetwork>;
  /** The firewall rules as text for a Linux gateway (`nft`) or OpenWrt (`openwrt`). */
  exportFirewall(format: FirewallFormat): Promise<string>;
  /** The household: everyone sees names and roles. */
  members(): Promise<MemberView[]>;
  addMember(name: string, role: Role): Promise<MemberView>;
  /** A new name, a new role, or both (null: unchanged). */
  changeMember(member: string, change: { name?: string | null; role?: Role | null }): Promise<MemberView>;
  /** Ends their sessions at once and takes their rights away. */
  removeMember(member: string): Promise<void>;
  /** A one-use sign-in link for the member, good for `hours` (only for one without a password). */
  invite(member: string, hours: number): Promise<Invitation>;
  /** Clears a member's forgotten password (they see that it was done); then invite them again. */
  resetPassword(member: string): Promise<void>;
  /** The asker's own password; `current` once they have one. */
  setPassword(password: string, current: string | null): Promise<void>;
  rooms(): Promise<RoomView[]>;
  addRoom(name: string): Promise<RoomView>;
  renameRoom(room: number, name: string): Promise<RoomView>;
  removeRoom(room: number): Promise<void>;
  /** Puts a device in a room (null: in none). */
  setRoom(id: DeviceId, room: number | null): Promise<Device>;
  /** Whose personal device it is (null: the household's). */
  setPersonal(id: DeviceId, member: string | null): Promise<Device>;
  /** Shares what the asker's own personal device sends with another member (a review right they
   *  give), for `hours` or until they stop (null); sharing again replaces it. */
  share(id: DeviceId, member: string, hours: number | null): Promise<GrantView>;
  /** Takes back what the asker shared of their own device with that member. */
  unshare(id: DeviceId, member: string): Promise<void>;
  /** An owner reads everyone's grants (or one member's); others read their own and the shares
   *  they gave (`granted_by` is them). */
  grants(member?: string): Promise<GrantView[]>;
  addGrant(grant: GrantRequest): Promise<GrantView>;
  removeGrant(grant: number): Promise<void>;
  /** Who did what, newest first, a page at a time. */
  audit(query: AuditQuery): Promise<AuditPage>;
  /** What can be operated on the device, with the state it last reported. */
  controls(id: DeviceId): Promise<ControlView[]>;
  /** What it measures now (power, temperature...), as its own discovery describes it. */
  readings(id: DeviceId): Promise<ReadingView[]>;
  /** Operates one entity; locks need `confirm`. */
  control(id: DeviceId, entity: string, action: ControlAction, confirm: boolean): Promise<ControlView>;
  /**
   * Live inventory events. Whenever the stream (re)attaches, the backend emits a synthetic
   * `resync`: events may have been missed, so the list must be reloaded. Returns an unsubscribe.
   */
  onEvent(cb: (e: Event) => void): () => void;
  /**
   * Whether the live stream is attached right now (a browser can lose it; the desktop cannot).
   * Calls `cb` at once with the current state. Returns an unsubscribe.
   */
  onConnection(cb: (connected: boolean) => void): () => void;
}

/** The desktop app's webview carries Tauri's IPC bridge; a browser does not. */
export function isDesktop(): boolean {
  return "__TAURI_INTERNALS__" in window;
}

/** The backend for where this page runs. Tauri's code is only loaded inside the desktop app. */
export async function connectBackend(): Promise<Backend> {
  if (isDesktop()) {
    const { tauriTransport } = await import("./tauri");
    return backendOver(tauriTransport());
  }
  return backendOver(httpTransport());
}
