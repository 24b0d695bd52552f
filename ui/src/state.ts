// What the screens render from, and what they can ask for. Views read `AppState` and call
// `Actions`; only `app.ts` changes the state or talks to the backend.

import type { AnonymousAccess } from "./generated/AnonymousAccess";
import type { CategoryRetention } from "./generated/CategoryRetention";
import type { Category } from "./generated/Category";
import type { Change } from "./generated/Change";
import type { DeviceReview } from "./generated/DeviceReview";
import type { HomeReview } from "./generated/HomeReview";
import type { PrivacySettings } from "./generated/PrivacySettings";
import type { Retention } from "./generated/Retention";
import type { ReviewRange } from "./review-model";
import type { ApiError } from "./generated/ApiError";
import type { BrokerView } from "./generated/BrokerView";
import type { CredentialAction } from "./generated/CredentialAction";
import type { Direction } from "./generated/Direction";
import type { IssuedCredential } from "./generated/IssuedCredential";
import type { RuleChoice } from "./generated/RuleChoice";
import type { Suggestion } from "./generated/Suggestion";
import type { Verdict } from "./generated/Verdict";
import type { Device } from "./generated/Device";
import type { DeviceDetail } from "./generated/DeviceDetail";
import type { DeviceId } from "./generated/DeviceId";
import type { Status } from "./generated/Status";
import type { BrowserSession } from "./generated/BrowserSession";
import type { ContestView } from "./generated/ContestView";
import type { IdentityReview } from "./generated/IdentityReview";
import type { MergeChoice } from "./generated/MergeChoice";
import type { MergeProposal } from "./generated/MergeProposal";
import type { RuleView } from "./generated/RuleView";
import type { DomainChoice } from "./generated/DomainChoice";
import type { HomeNetwork } from "./generated/HomeNetwork";
import type { InternetLevel } from "./generated/InternetLevel";
import type { NetworkView } from "./generated/NetworkView";
import type { AuditView } from "./generated/AuditView";
import type { ControlAction } from "./generated/ControlAction";
import type { ControlView } from "./generated/ControlView";
import type { ReadingView } from "./generated/ReadingView";
import type { GrantRequest } from "./generated/GrantRequest";
import type { GrantView } from "./generated/GrantView";
import type { Invitation } from "./generated/Invitation";
import type { Me } from "./generated/Me";
import type { MemberView } from "./generated/MemberView";
import type { Role } from "./generated/Role";
import type { RoomView } from "./generated/RoomView";
import type { FirewallFormat } from "./api/backend";
import type { Filters } from "./model";
import type { NotificationEntry } from "./notifications";

export type Route =
  | { name: "list" }
  /** `child`: a device behind this bridge, shown on a page of its own. */
  | { name: "device"; id: DeviceId; child?: string }
  | { name: "review" }
  | { name: "network" }
  | { name: "settings" }
  | { name: "household" }
  | { name: "activity" }
  /** What the banners showed (the bell). */
  | { name: "notifications" }
  /** Where an invitation lands, signed in: choose a password. */
  | { name: "welcome" };

/** Where the owner is signed in (the settings page). */
export interface SignInsState {
  data?: BrowserSession[];
  error?: ApiError;
}

export interface DetailState {
  id: DeviceId;
  data?: DeviceDetail;
  error?: ApiError;
  /** The device went away while its page was open. */
  forgotten?: boolean;
  /** Its broker side: credential, sessions, manifest, recent decisions. */
  broker?: BrokerView | undefined;
  brokerError?: ApiError | undefined;
  /** What it sent over `AppState.reviewRange`, and its privacy choices. */
  review?: DeviceReview | undefined;
  reviewError?: ApiError | undefined;
  privacy?: PrivacySettings | undefined;
  /** Its Internet section: level, enforcement, the names it looked up, its rules. */
  network?: NetworkView | undefined;
  networkError?: ApiError | undefined;
  /** What can be operated on it (switches, covers, locks, buttons) and what each reported. */
  controls?: ControlView[] | undefined;
  controlsError?: ApiError | undefined;
  /** What it measures now, for the summary; none shown when it cannot be loaded. */
  readings?: ReadingView[] | undefined;
}

/** Live news worth a banner: a device that started sending something new (a field, a kind of
 *  data), an announcement that says two records a person decided about are one device, or a
 *  device that looked up a name for the first time. */
export type News =
  | { id: number; kind: "change"; name: string; change: Change }
  | { id: number; kind: "question"; proposal: MergeProposal }
  | { id: number; kind: "destination"; deviceId: DeviceId; deviceName: string; name: string };

/** Open "is this one device?" questions and the announcements Hearth ignored (the home review). */
export interface IdentityState {
  data?: IdentityReview;
  error?: ApiError;
}

/** A one-click change that affects another device, asked about first. */
export type Confirmation =
  /** Allowing a learned topic that is another device's, or reaches it. */
  | { kind: "allow_topic"; device: Device; rule: RuleView }
  /** Giving an entity another device describes to this one (that device loses it). */
  | { kind: "give_entity"; device: Device; contest: ContestView }
  /** Removing a member: their sessions end and their rights go. */
  | { kind: "remove_member"; member: MemberView }
  /** Removing a room: its devices are in no room, and grants on it go. */
  | { kind: "remove_room"; room: RoomView }
  /** Operating something that opens the home (a lock): the hub wants it confirmed. */
  | { kind: "control"; device: Device; control: ControlView; action: ControlAction }
  /** How long a kind of a device's data is kept (`retention` null: Hearth's default): keeping
   *  less deletes what is past it at once. `current`: what it keeps now. */
  | { kind: "retention"; device: Device; category: Category; retention: Retention | null; current: CategoryRetention | undefined };

/** The household page: every grant the asker may read (an owner: everyone's; others: their own). */
export interface HouseholdState {
  grants?: GrantView[];
  error?: ApiError;
}

/** An invitation being made for a member: how long it works is being chosen, then the link. */
export interface InvitingState {
  member: MemberView;
  made?: {
    invitation: Invitation;
    /** The whole link; none in the desktop window, which has no address on the home network. */
    url: string | undefined;
    /** The link as a QR code (a data: URL), for the member's phone. */
    qr: string | undefined;
  };
}

/** The activity page's filters: a member's id, a device's id, a time range; "" for any. */
export interface ActivityFilters {
  member: string;
  device: string;
  since: "24h" | "7d" | "30d" | "";
}

export interface ActivityState {
  entries: AuditView[];
  /** For "Older"; null when the oldest row is shown. */
  nextBefore: number | null;
  loaded: boolean;
  loading: boolean;
  error?: ApiError;
}

/** Choosing a password (the welcome page, settings). */
export interface PasswordState {
  busy: boolean;
  /** Said beside the form: the hub's words, or the page's own check. */
  error?: string;
  done: boolean;
}

/** The home's review page. */
export interface HomeState {
  data?: HomeReview;
  error?: ApiError;
}

/** The home's network page. */
export interface HomeNetworkState {
  data?: HomeNetwork;
  error?: ApiError;
}

/** A secret just issued: shown once, until the person closes it. */
export interface ShownSecret {
  deviceName: string;
  credential: IssuedCredential;
  /** The same as a QR code (a data: URL), for phones and device set-up pages. */
  qr?: string | undefined;
}

export interface Notice {
  id: number;
  error: ApiError;
}

/** "Approved 4 devices. Undo": what the undo puts back in quarantine. */
export interface UndoApproval {
  ids: DeviceId[];
  names: string[];
}

export interface AppState {
  devices: Map<DeviceId, Device>;
  /** The last "approve all shown", undoable for a few seconds. */
  undo?: UndoApproval | undefined;
  /** The list's order when the person last decided from it: rows keep their place (a decided
   *  row does not jump away) until the search, the filters or the page change. */
  listOrder?: DeviceId[] | undefined;
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
  /** A credential to show once (after adding a device or rotating its secret). */
  secret: ShownSecret | undefined;
  /** The credential change the confirmation dialog asks about. */
  confirmingCredential: { device: Device; action: CredentialAction } | undefined;
  /** How far back reviews look. */
  reviewRange: ReviewRange;
  /** The person chose the range; until then each review picks the shortest that shows all its
   *  data (a device heard from for two hours: the last day, not a sliver of the week). */
  reviewRangeChosen: boolean;
  /** Devices that started sending something new, and identity questions, newest last, until
   *  dismissed. Only the newest is on screen (one line); the history keeps them all. */
  news: News[];
  /** What the banners showed, newest first (kept in this browser), and how many are unread.
   *  `seenAt`: when the person last looked before this visit, to mark what is new to them. */
  notifications: { entries: readonly NotificationEntry[]; unread: number; seenAt: number };
  /** The main navigation's menu is open (narrow screens: the links are behind a button). */
  menuOpen: boolean;
  home: HomeState | undefined;
  network: HomeNetworkState | undefined;
  identity: IdentityState | undefined;
  /** The change the confirmation dialog asks about. */
  confirming: Confirmation | undefined;
  /** Whether this page can see and end sign-ins (a browser: yes; the desktop window: no). */
  signInsAvailable: boolean;
  signIns: SignInsState | undefined;
  /** Sessions with a sign-out on its way (`others` for "everywhere else"). */
  signingOut: Set<string>;
  /** Whether this page can save a device's messages as CSV (a browser: yes; the desktop: no). */
  csvExport: boolean;
  /** The desktop window: it has no address on the home network to put in a link. */
  desktop: boolean;
  /** Who is asking and what they may do; undefined until the hub answered (nothing is hidden
   *  meanwhile: the hub refuses what they may not do anyway). */
  me: Me | undefined;
  /** The household and its rooms, for names and choices on every page. */
  members: MemberView[];
  rooms: RoomView[];
  household: HouseholdState | undefined;
  inviting: InvitingState | undefined;
  activity: ActivityState | undefined;
  activityFilters: ActivityFilters;
  password: PasswordState;
  /** Household changes on their way, by what they are about (`member:ID`, `room:ID`, `grant:ID`,
   *  `add-member`, `add-room`, `device:ID`). */
  familyBusy: Set<string>;
  /** The room whose name is being changed. */
  renamingRoom: number | undefined;
  /** The hub's refusal of the last share (or stop) on a device's page, said beside its form. */
  shareError: { device: DeviceId; message: string } | undefined;
}

export interface Actions {
  setFilters(f: Partial<Filters>): void;
  clearFilters(): void;
  decide(device: Device, decision: Verdict): void;
  /** Approves every new device shown, with an undo. */
  approveAll(devices: Device[]): void;
  undoApproveAll(): void;
  askForget(device: Device, trigger: HTMLElement | null): void;
  confirmForget(): void;
  cancelForget(): void;
  dismissNotice(id: number): void;
  retry(): void;
  /** Issues a credential to a device that has none (nothing to cut off: no question asked). */
  credential(device: Device, action: CredentialAction): void;
  /** Asks before replacing or revoking a secret: either disconnects the device. */
  askCredential(device: Device, action: CredentialAction, trigger: HTMLElement | null): void;
  confirmCredential(): void;
  cancelCredential(): void;
  /** Resolves true once the rule is in place (false if refused: the form keeps what was typed). */
  setTopicRule(device: Device, direction: Direction, pattern: string, rule: RuleChoice): Promise<boolean>;
  addDevice(name: string): void;
  /** Names a device as the household calls it. */
  rename(device: Device, name: string): void;
  bindClientId(device: Device, clientId: string | null): void;
  setAnonymous(device: Device, access: AnonymousAccess | null): void;
  setReviewRange(range: ReviewRange): void;
  dismissNews(id: number): void;
  /** Opens or closes the navigation menu (narrow screens); `open` undefined toggles it. */
  toggleMenu(open?: boolean): void;
  /** Empties the notification history. */
  clearNotifications(): void;
  /** `null`: back to Hearth's default for that kind of data. */
  setRetention(device: Device, category: Category, retention: Retention | null): void;
  setRedaction(device: Device, path: string, redact: boolean): void;
  /** Downloads everything Hearth holds about the device (JSON), or its messages (CSV). */
  exportDevice(device: Device, format: "json" | "csv"): void;
  /** Allows every rule of a firmware suggestion. */
  applySuggestion(device: Device, suggestion: Suggestion): void;
  closeSecret(): void;
  /** Asks before a one-click change that affects another device (see `Confirmation`). */
  askConfirm(confirmation: Confirmation, trigger: HTMLElement | null): void;
  confirm(): void;
  cancelConfirm(): void;
  /** A person's answer to "is `device` the same device as `other`?"; a merge opens the record kept. */
  answerMerge(device: Device, other: { id: DeviceId; name: string }, answer: MergeChoice): void;
  /** Signs that browser out at once; the current one reloads into the sign-in page. */
  signOut(session: BrowserSession): void;
  /** Signs out every browser but this one. */
  signOutOthers(): void;
  /** A person's choice of how far the device may reach beyond the home. */
  setInternetLevel(device: Device, level: InternetLevel): void;
  /** Allows or denies a name for the device, or removes its rule. Resolves true once done (false
   *  if refused: the form keeps what was typed). */
  setDomain(device: Device, domain: string, choice: DomainChoice): Promise<boolean>;
  /** Allows every name the device is waiting on a person for. */
  allowWaiting(device: Device): void;
  /** Downloads the firewall rules for a Linux gateway or OpenWrt. */
  exportFirewall(format: FirewallFormat): void;
  /** Operates one of the device's controls; locks are asked about first (`trigger` gets focus
   *  back if the person cancels). */
  control(device: Device, control: ControlView, action: ControlAction, trigger: HTMLElement | null): void;
  /** Signs this browser out (the hub's sign-in page follows). */
  signOutHere(): void;
  /** The household: members, invitations, rights, rooms, the activity and passwords. */
  readonly family: FamilyActions;
}

export interface FamilyActions {
  /** Resolves true once added (false if refused: the form keeps what was typed). */
  addMember(name: string, role: Role): Promise<boolean>;
  changeRole(member: MemberView, role: Role): void;
  /** Asks before removing (the founding owner cannot be). */
  askRemoveMember(member: MemberView, trigger: HTMLElement | null): void;
  removeMember(member: MemberView): void;
  /** Clears a member's forgotten password (they see it); then they are invited again. */
  resetPassword(member: MemberView): void;
  /** Opens the invitation form under the member's row. */
  startInvite(member: MemberView): void;
  cancelInvite(): void;
  invite(member: MemberView, hours: number): void;
  copyInvitation(): void;
  /** Resolves true once given (false if refused: the form keeps what was chosen). */
  addGrant(grant: GrantRequest): Promise<boolean>;
  removeGrant(grant: GrantView): void;
  addRoom(name: string): Promise<boolean>;
  startRenameRoom(room: RoomView | undefined): void;
  renameRoom(room: RoomView, name: string): Promise<boolean>;
  askRemoveRoom(room: RoomView, trigger: HTMLElement | null): void;
  removeRoom(room: RoomView): void;
  setRoom(device: Device, room: number | null): void;
  setPersonal(device: Device, member: string | null): void;
  /** Shares what the asker's own device sends with `member`, for `hours` or until they stop
   *  (null). Resolves true once shared (false if refused: the hub's words are beside the form). */
  share(device: Device, member: string, hours: number | null): Promise<boolean>;
  /** Takes back a share the asker gave of their own device. */
  unshare(device: Device, grant: GrantView): void;
  setActivityFilters(f: Partial<ActivityFilters>): void;
  olderActivity(): void;
  /** The asker's own password (`current` once they have one). Resolves true once set. */
  setPassword(password: string, current: string | null): Promise<boolean>;
  /** Says what is wrong with a password before the hub is asked (too short, typed differently). */
  passwordProblem(error: string): void;
}
