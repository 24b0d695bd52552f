// The controller: owns the state, talks to the backend, applies live events and renders.
//
// Consistency with the live stream: every event carries the device's whole current record, so
// the list is "last snapshot + every event since, in order". Events that arrive while a list
// load is in flight are queued and replayed on top of the snapshot. Whenever the stream
// (re)attaches the backend emits `resync`, and the list is loaded again.

import { render } from "lit-html";
import { type Backend, BackendError, type FirewallFormat, isDesktop, toApiError } from "./api/backend";
import QRCode from "qrcode";
import type { AnonymousAccess } from "./generated/AnonymousAccess";
import type { Category } from "./generated/Category";
import type { Retention } from "./generated/Retention";
import { CATEGORY_LABELS, firstMessage, rangeCovering, retentionLabel, type ReviewRange } from "./review-model";
import type { DeviceReview } from "./generated/DeviceReview";
import type { HomeReview } from "./generated/HomeReview";
import { syncCharts } from "./views/chart";
import type { BrokerView } from "./generated/BrokerView";
import type { CredentialAction } from "./generated/CredentialAction";
import type { Suggestion } from "./generated/Suggestion";
import type { Direction } from "./generated/Direction";
import type { IssuedCredential } from "./generated/IssuedCredential";
import type { RuleChoice } from "./generated/RuleChoice";
import type { Verdict } from "./generated/Verdict";
import type { BrowserSession } from "./generated/BrowserSession";
import type { Device } from "./generated/Device";
import type { DeviceId } from "./generated/DeviceId";
import type { Event as HubEvent } from "./generated/Event";
import type { ContestView } from "./generated/ContestView";
import type { MergeChoice } from "./generated/MergeChoice";
import type { MergeProposal } from "./generated/MergeProposal";
import type { DomainChoice } from "./generated/DomainChoice";
import type { InternetLevel } from "./generated/InternetLevel";
import type { NetworkView } from "./generated/NetworkView";
import { LEVELS } from "./network-model";
import { compareDevices, type Filters, matches, NO_FILTERS, STATE_LABELS } from "./model";
import type { Actions, AppState, Confirmation, DetailState, Route } from "./state";
import { appView } from "./views/shell";
import { NotificationHistory, pageStorage, type Shown } from "./notifications";
import type { ControlAction } from "./generated/ControlAction";
import type { ControlView } from "./generated/ControlView";
import { Family } from "./family";
import { ACTION_LABELS, isOwner, mayConfigureHome, rightsOn } from "./family-model";

/** Banners waiting behind the one on screen (the history keeps every one anyway). */
const QUEUED_BANNERS = 20;

/** Relative times ("2 min ago") are re-rendered this often; the data itself is never polled. */
const CLOCK_MS = 20_000;
/** Bursts of events for the open device page cause one reload of its history. */
const DETAIL_RELOAD_MS = 150;

/** Part of a device's page, loaded on its own and applied when the page is written. */
type Part = () => Partial<DetailState>;

/** Whether a device's broker view names `other`: holding one of its client ids (whose session
 *  may end without the hub telling this page), owning or on the other end of a topic it tried,
 *  or holding an entity it describes. */
function names(view: BrokerView | undefined, other: DeviceId): boolean {
  return (
    holdsClientIdOf(view, other) ||
    (!!view && (view.rules.some((r) => r.concerns?.device_id === other) || view.contested.some((c) => c.holder_id === other)))
  );
}

/** Whether a session of `other` holds one of this view's client ids: the one tie to another
 *  device that the hub does not report to this page (it reports rule changes and entities given
 *  away), so that another device's traffic does not reload the page for nothing. */
function holdsClientIdOf(view: BrokerView | undefined, other: DeviceId): boolean {
  return !!view && view.client_id_holders.some((h) => h.device_id === other);
}

/** Every device's look-ups move the network page's figures: reload it at most this often. */
const HOME_NETWORK_RELOAD_MS = 1_000;

/** The status bar's figures (refused connections, retained messages) move with broker traffic,
 *  which no event reports as such: broker events reload the status at most this often. */
const STATUS_RELOAD_MS = 10_000;

function parseRoute(hash: string): Route {
  const m = /^#\/devices\/([^/?#]+)(?:\/children\/([^/?#]+))?/.exec(hash);
  if (m?.[1]) {
    try {
      const id = decodeURIComponent(m[1]);
      return m[2] ? { name: "device", id, child: decodeURIComponent(m[2]) } : { name: "device", id };
    } catch {
      /* a malformed id falls back to the list */
    }
  }
  if (/^#\/review\b/.test(hash)) return { name: "review" };
  if (/^#\/network\b/.test(hash)) return { name: "network" };
  if (/^#\/settings\b/.test(hash)) return { name: "settings" };
  if (/^#\/household\b/.test(hash)) return { name: "household" };
  if (/^#\/activity\b/.test(hash)) return { name: "activity" };
  if (/^#\/notifications\b/.test(hash)) return { name: "notifications" };
  if (/^#\/welcome\b/.test(hash)) return { name: "welcome" };
  return { name: "list" };
}

/** Saves `content` as a file named `name` (the browser's download; the desktop window's too). */
function download(name: string, type: string, content: string): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export class App implements Actions {
  private readonly state: AppState = {
    devices: new Map(),
    loaded: false,
    loadError: undefined,
    status: undefined,
    connection: "connecting",
    filters: { ...NO_FILTERS },
    route: { name: "list" },
    detail: undefined,
    busy: new Set(),
    notices: [],
    announcement: "",
    forgetting: undefined,
    now: Date.now(),
    secret: undefined,
    confirmingCredential: undefined,
    reviewRange: "7d",
    reviewRangeChosen: false,
    home: undefined,
    network: undefined,
    identity: undefined,
    confirming: undefined,
    news: [],
    notifications: { entries: [], unread: 0, seenAt: 0 },
    menuOpen: false,
    signInsAvailable: false,
    signIns: undefined,
    signingOut: new Set(),
    csvExport: false,
    desktop: false,
    me: undefined,
    members: [],
    rooms: [],
    household: undefined,
    inviting: undefined,
    activity: undefined,
    activityFilters: { member: "", device: "", since: "7d" },
    password: { busy: false, done: false },
    familyBusy: new Set(),
    renamingRoom: undefined,
    shareError: undefined,
  };
  readonly family: Family;
  /** The first answer to "who is asking" (or its failure): the list waits for it, so that a
   *  member never sees buttons they may not use flash up before the hub said who they are. */
  private whoReady: Promise<void> = Promise.resolve();
  private renderQueued = false;
  private listLoading = false;
  private listReloadWanted = false;
  /** Events received while a list load is in flight, replayed on top of its snapshot. */
  private queued: HubEvent[] | undefined;
  private detailTimer: ReturnType<typeof setTimeout> | undefined;
  private brokerTimer: ReturnType<typeof setTimeout> | undefined;
  private brokerTimerFor: DeviceId | undefined;
  /** The reload on its way, if any, and whether another is wanted when it answers. */
  private brokerReloading: { id: DeviceId; again: boolean } | undefined;
  private statusTimer: ReturnType<typeof setTimeout> | undefined;
  private detailGeneration = 0;
  private reviewGeneration = 0;
  private brokerGeneration = 0;
  private networkGeneration = 0;
  private controlsGeneration = 0;
  private readingsGeneration = 0;
  private whoTimer: ReturnType<typeof setTimeout> | undefined;
  /** The Internet section's reload waiting to start, and the home network page's. */
  private networkTimer: ReturnType<typeof setTimeout> | undefined;
  private homeNetworkTimer: ReturnType<typeof setTimeout> | undefined;
  private noticeSeq = 0;
  /** The page (a device's id, or "home") whose review range was picked from its data on this
   *  visit: reloads keep it rather than pick again. */
  private rangePicked: string | undefined;
  private readonly history = new NotificationHistory(pageStorage());
  /** Whose history is open (a member's id); none until the hub said who is asking. */
  private historyOwner: string | undefined;
  /** Where focus goes after the next render (route changes, removed rows). */
  private focusAfterRender: (() => void) | undefined;
  private forgetTrigger: HTMLElement | null = null;
  private credentialTrigger: HTMLElement | null = null;
  private confirmTrigger: HTMLElement | null = null;
  /** The device whose page we came from, to return focus to its row. */
  private lastDetailId: DeviceId | undefined;

  constructor(
    private readonly backend: Backend,
    private readonly root: HTMLElement,
  ) {
    this.state.signInsAvailable = backend.signIns !== undefined;
    this.state.csvExport = backend.exportCsv !== undefined;
    this.state.desktop = isDesktop();
    this.family = new Family({
      state: this.state,
      backend,
      root,
      update: () => this.update(),
      notify: (e, fallback) => this.notify(e, fallback),
      announce: (text) => this.announce(text),
      afterRender: (fn) => {
        this.focusAfterRender = fn;
      },
      askConfirm: (c, trigger) => this.askConfirm(c, trigger),
    });
  }

  start(): void {
    let everLive = false;
    this.backend.onConnection((connected) => {
      everLive ||= connected;
      this.state.connection = connected ? "live" : everLive ? "reconnecting" : "connecting";
      this.update();
    });
    this.backend.onEvent((e) => this.onEvent(e));
    window.addEventListener("hashchange", () => this.route());
    setInterval(() => {
      this.state.now = Date.now();
      this.update();
    }, CLOCK_MS);
    this.whoReady = this.family.loadWho();
    this.route();
    void this.loadList();
    void this.loadStatus();
  }

  // ---- rendering ----

  private update(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.openHistory();
      render(appView(this.state, this), this.root);
      this.syncDialog();
      syncCharts(this.root);
      const focus = this.focusAfterRender;
      this.focusAfterRender = undefined;
      focus?.();
    });
  }

  /** Opens and closes the modal dialogs to match the state (a <dialog> is modal only through
   *  showModal()). The secret goes over any other dialog. */
  private syncDialog(): void {
    const wanted: [string, boolean][] = [
      ["#forget-dialog", this.state.forgetting !== undefined],
      ["#credential-dialog", this.state.confirmingCredential !== undefined],
      ["#confirm-dialog", this.state.confirming !== undefined],
      ["#secret-dialog", this.state.secret !== undefined],
    ];
    for (const [id, open] of wanted) {
      const dialog = this.root.querySelector<HTMLDialogElement>(id);
      if (!dialog) continue;
      if (open && !dialog.open) dialog.showModal();
      else if (!open && dialog.open) dialog.close();
    }
  }

  private announce(text: string): void {
    // Same text twice in a row is not re-read by screen readers: clear first.
    this.state.announcement = "";
    this.update();
    setTimeout(() => {
      this.state.announcement = text;
      this.update();
    }, 50);
  }

  private notify(e: unknown, fallback: string): void {
    const notice = { id: ++this.noticeSeq, error: toApiError(e, fallback) };
    this.state.notices = [...this.state.notices, notice].slice(-QUEUED_BANNERS);
    this.remember({ id: notice.id, kind: "error", error: notice.error });
    this.update();
  }

  /** A banner for news (the newest is on screen), kept in the history too. `keep`: which of the
   *  banners already waiting stay. */
  private addNews(news: AppState["news"][number], keep: (n: AppState["news"][number]) => boolean = () => true): void {
    this.state.news = [...this.state.news.filter(keep), news].slice(-QUEUED_BANNERS);
    this.remember(news);
  }

  private remember(item: Shown): void {
    this.history.add(item);
    // Read as it arrives if the person is looking at the history.
    if (this.state.route.name === "notifications") this.history.markSeen();
    this.historyChanged();
  }

  /** Each member has their own history on this browser: it is opened once the hub says who is
   *  asking (what arrived before joins it; until then it lasts this page only), and again if
   *  someone else is signed in here. Checked before each render: `me` arrives, and may be
   *  loaded again, on several paths. */
  private openHistory(): void {
    const who = this.state.me?.member.id;
    if (who === undefined || who === this.historyOwner) return;
    this.historyOwner = who;
    this.history.open(who);
    if (this.state.route.name === "notifications") {
      this.state.notifications = { ...this.state.notifications, seenAt: this.history.seenAt };
      this.history.markSeen();
    }
    this.state.notifications = { ...this.state.notifications, entries: this.history.entries, unread: this.history.unread };
  }

  /** The person opened the history: what is new to them stays marked on this visit, and the
   *  count in the bell goes. */
  private lookAtHistory(): void {
    this.state.notifications = { ...this.state.notifications, seenAt: this.history.seenAt };
    this.history.markSeen();
    this.historyChanged();
  }

  private historyChanged(): void {
    this.state.notifications = { ...this.state.notifications, entries: this.history.entries, unread: this.history.unread };
    this.update();
  }

  // ---- routing ----

  private route(): void {
    const route = parseRoute(location.hash);
    const previous = this.state.route;
    this.state.route = route;
    if (route.name !== "list") this.state.listOrder = undefined;
    this.state.menuOpen = false;
    if (this.state.detail && (route.name !== "device" || this.state.detail.id !== route.id)) this.cancelBrokerReload();
    if (route.name === "device") {
      if (this.state.detail?.id !== route.id) {
        this.rangePicked = undefined;
        this.state.detail = { id: route.id };
        this.state.shareError = undefined;
        void this.loadDetail(route.id);
        // Whom the person's own device is shared with (the "Room and owner" card).
        void this.family.loadGrants();
      }
      this.lastDetailId = route.id;
      this.focusAfterRender = () => this.root.querySelector<HTMLElement>("#page-title")?.focus();
      window.scrollTo(0, 0);
    } else if (route.name === "review") {
      this.state.detail = undefined;
      this.rangePicked = undefined;
      void this.loadHome();
      this.focusAfterRender = () => this.root.querySelector<HTMLElement>("#page-title")?.focus();
    } else if (route.name === "network") {
      this.state.detail = undefined;
      void this.loadHomeNetwork();
      this.focusAfterRender = () => this.root.querySelector<HTMLElement>("#page-title")?.focus();
    } else if (route.name === "settings") {
      this.state.detail = undefined;
      this.state.password = { busy: false, done: false };
      void this.loadSignIns();
      this.focusAfterRender = () => this.root.querySelector<HTMLElement>("#page-title")?.focus();
    } else if (route.name === "household") {
      this.state.detail = undefined;
      // An invitation link is shown once: coming back does not show it again.
      this.state.inviting = undefined;
      this.state.renamingRoom = undefined;
      void this.family.loadHousehold();
      this.focusAfterRender = () => this.root.querySelector<HTMLElement>("#page-title")?.focus();
    } else if (route.name === "activity") {
      this.state.detail = undefined;
      void this.family.loadActivity();
      this.focusAfterRender = () => this.root.querySelector<HTMLElement>("#page-title")?.focus();
    } else if (route.name === "notifications") {
      this.state.detail = undefined;
      this.lookAtHistory();
      this.focusAfterRender = () => this.root.querySelector<HTMLElement>("#page-title")?.focus();
    } else if (route.name === "welcome") {
      this.state.detail = undefined;
      this.state.password = { busy: false, done: false };
      this.focusAfterRender = () => this.root.querySelector<HTMLElement>("#page-title")?.focus();
    } else {
      this.state.detail = undefined;
      if (previous.name === "device") {
        const id = this.lastDetailId;
        this.focusAfterRender = () => {
          const link = id ? this.root.querySelector<HTMLElement>(`[data-device-id="${CSS.escape(id)}"] .device-name`) : null;
          (link ?? this.root.querySelector<HTMLElement>("#page-title"))?.focus();
        };
      }
    }
    this.update();
  }

  // ---- loading ----

  private async loadList(): Promise<void> {
    if (this.listLoading) {
      this.listReloadWanted = true;
      return;
    }
    this.listLoading = true;
    try {
      do {
        this.listReloadWanted = false;
        this.queued = [];
        try {
          const [devices] = await Promise.all([this.backend.devices(), this.whoReady]);
          this.state.devices = new Map(devices.map((d) => [d.id, d]));
          const queued = this.queued ?? [];
          this.queued = undefined;
          for (const e of queued) this.applyToList(e);
          this.state.loaded = true;
          this.state.loadError = undefined;
        } catch (e) {
          this.queued = undefined;
          if (this.state.loaded) this.notify(e, "The device list could not be refreshed.");
          else this.state.loadError = toApiError(e, "The device list could not be loaded.");
        }
      } while (this.listReloadWanted);
    } finally {
      this.listLoading = false;
      this.update();
    }
  }

  private async loadStatus(): Promise<void> {
    try {
      this.state.status = await this.backend.status();
    } catch (e) {
      // The list shows the same error if the hub is unreachable; only report it once.
      if (this.state.loaded) this.notify(e, "The hub's status could not be loaded.");
    }
    this.update();
  }

  private async loadDetail(id: DeviceId): Promise<void> {
    const generation = ++this.detailGeneration;
    try {
      // Only the parts the person may read: asking for the rest would be refused (and looking
      // at what another member's device sends is recorded for them to see).
      await this.whoReady;
      const may = rightsOn(this.state.me, id);
      const none: Promise<Part> = Promise.resolve(() => ({}));
      const [data, broker, review, network, controls, readings] = await Promise.all([
        this.backend.device(id),
        isOwner(this.state.me) ? this.loadBrokerView(id) : none,
        may.review ? this.loadReview(id) : none,
        may.review ? this.loadNetwork(id) : none,
        this.loadControls(id),
        this.loadReadings(id),
      ]);
      if (generation !== this.detailGeneration || this.state.detail?.id !== id) return;
      // What a reload wrote meanwhile stays (an overtaken part is empty); an old error goes.
      const { error: _oldError, ...shown } = this.state.detail;
      this.state.detail = { ...shown, id, data, ...broker(), ...review(), ...network(), ...controls(), ...readings() };
    } catch (e) {
      if (generation !== this.detailGeneration || this.state.detail?.id !== id) return;
      this.state.detail = { ...this.state.detail, error: toApiError(e, "This device could not be loaded.") };
    }
    this.update();
  }

  /** The broker view, or its error: a broken broker section must not hide the rest of the page.
   *  Returned as a part to apply when the page is written: an answer that a later request (or a
   *  view an action returned) overtook by then, or one for a page no longer shown, changes
   *  nothing, since answers may come back out of order. */
  private async loadBrokerView(id: DeviceId): Promise<Part> {
    const generation = ++this.brokerGeneration;
    let part: Partial<DetailState>;
    try {
      part = { broker: await this.backend.brokerView(id), brokerError: undefined };
    } catch (e) {
      part = { broker: undefined, brokerError: toApiError(e, "The device's MQTT side could not be loaded.") };
    }
    return () => (generation === this.brokerGeneration && this.state.detail?.id === id ? part : {});
  }

  /** What can be operated on the device: a part of its own, like the broker view. */
  private async loadControls(id: DeviceId): Promise<Part> {
    const generation = ++this.controlsGeneration;
    let part: Partial<DetailState>;
    try {
      part = { controls: await this.backend.controls(id), controlsError: undefined };
    } catch (e) {
      part = { controls: undefined, controlsError: toApiError(e, "What can be operated on this device could not be loaded.") };
    }
    return () => (generation === this.controlsGeneration && this.state.detail?.id === id ? part : {});
  }

  /** What the device measures now: a part of its own, like the controls. Not loaded, the
   *  summary only says less, so an error is not shown. */
  private async loadReadings(id: DeviceId): Promise<Part> {
    const generation = ++this.readingsGeneration;
    let part: Partial<DetailState>;
    try {
      part = { readings: await this.backend.readings(id) };
    } catch {
      part = { readings: undefined };
    }
    return () => (generation === this.readingsGeneration && this.state.detail?.id === id ? part : {});
  }

  /** Shows the broker view an action answered with; older reloads still on their way lose. */
  private showBroker(broker: BrokerView): void {
    this.brokerGeneration++;
    this.state.detail = { ...this.state.detail!, broker, brokerError: undefined };
  }

  /** The review and privacy choices, or the error: like the broker view, a part of its own
   *  (an answer overtaken by a later request, the range changed meanwhile, changes nothing). */
  private async loadReview(id: DeviceId): Promise<Part> {
    const generation = ++this.reviewGeneration;
    let part: Partial<DetailState>;
    let picked: ReviewRange | undefined;
    try {
      let since = this.state.reviewRange;
      let wide: DeviceReview | undefined;
      if (!this.state.reviewRangeChosen && this.rangePicked !== id) {
        // Until the person picks a range: the shortest that shows all it sent (its first message
        // is its oldest topic's; a month covers whatever is older).
        wide = await this.backend.review(id, "30d");
        const first = firstMessage(wide);
        since = picked = first === undefined ? "30d" : rangeCovering(wide.until - first);
      }
      const [review, privacy] = await Promise.all([
        wide && since === "30d" ? wide : this.backend.review(id, since),
        this.backend.privacy(id),
      ]);
      part = { review, privacy, reviewError: undefined };
    } catch (e) {
      part = { reviewError: toApiError(e, "What this device sends could not be loaded.") };
    }
    return () => {
      if (generation !== this.reviewGeneration || this.state.detail?.id !== id) return {};
      if (picked && !this.state.reviewRangeChosen) {
        this.state.reviewRange = picked;
        this.rangePicked = id;
      }
      return part;
    };
  }

  /** The Internet section, or its error: a part of its own, like the broker view. */
  private async loadNetwork(id: DeviceId): Promise<Part> {
    const generation = ++this.networkGeneration;
    let part: Partial<DetailState>;
    try {
      part = { network: await this.backend.network(id), networkError: undefined };
    } catch (e) {
      part = { network: undefined, networkError: toApiError(e, "What this device looks up on the internet could not be loaded.") };
    }
    return () => (generation === this.networkGeneration && this.state.detail?.id === id ? part : {});
  }

  /** Shows the Internet section an action answered with; older reloads still on their way lose. */
  private showNetwork(id: DeviceId, network: NetworkView): void {
    if (this.state.detail?.id !== id) return;
    this.networkGeneration++;
    this.state.detail = { ...this.state.detail, network, networkError: undefined };
  }

  /** The device's names changed (it looked something up, a rule changed): its Internet section
   *  reloads, at most once per DETAIL_RELOAD_MS; a reload already waiting is not pushed back. */
  private reloadNetworkSoon(id: DeviceId): void {
    if (this.networkTimer !== undefined) return;
    this.networkTimer = setTimeout(async () => {
      this.networkTimer = undefined;
      if (this.state.detail?.id !== id || this.state.detail.forgotten || !rightsOn(this.state.me, id).review) return;
      const network = await this.loadNetwork(id);
      if (this.state.detail?.id === id && !this.state.detail.forgotten) {
        this.state.detail = { ...this.state.detail, ...network() };
        this.update();
      }
    }, DETAIL_RELOAD_MS);
  }

  /** The home's network page (the DNS gate, the firewall, who talks to whom). */
  private async loadHomeNetwork(): Promise<void> {
    try {
      this.state.network = { data: await this.backend.homeNetwork() };
    } catch (e) {
      this.state.network = { error: toApiError(e, "The home's network could not be loaded.") };
    }
    this.update();
  }

  /** Devices look names up all the time: the network page follows at most once a second. */
  private reloadHomeNetworkSoon(): void {
    if (this.homeNetworkTimer !== undefined) return;
    this.homeNetworkTimer = setTimeout(() => {
      this.homeNetworkTimer = undefined;
      if (this.state.route.name === "network") void this.loadHomeNetwork();
    }, HOME_NETWORK_RELOAD_MS);
  }

  private async loadHome(): Promise<void> {
    // Identity questions are the home's settings: only for who may change them.
    if (mayConfigureHome(this.state.me)) void this.loadIdentity();
    else this.state.identity = undefined;
    try {
      let since = this.state.reviewRange;
      let wide: HomeReview | undefined;
      if (!this.state.reviewRangeChosen && this.rangePicked !== "home") {
        // Until the person picks a range: the shortest that shows every device's data. The home
        // review does not say when each first sent; a device's record is at least that old.
        wide = await this.backend.homeReview("30d");
        const firsts = wide.devices.flatMap((d) => this.state.devices.get(d.device_id)?.first_seen ?? []);
        since = firsts.length ? rangeCovering(wide.until - Math.min(...firsts)) : "30d";
        if (!this.state.reviewRangeChosen) {
          this.state.reviewRange = since;
          this.rangePicked = "home";
        }
      }
      this.state.home = { data: wide && since === "30d" ? wide : await this.backend.homeReview(since) };
    } catch (e) {
      this.state.home = { error: toApiError(e, "The home's review could not be loaded.") };
    }
    this.update();
  }

  /** Open identity questions and ignored announcements (the home review), on their own: a
   *  failure here must not hide what the devices send. */
  private async loadIdentity(): Promise<void> {
    try {
      this.state.identity = { data: await this.backend.identityReview() };
    } catch (e) {
      this.state.identity = { error: toApiError(e, "The announcements Hearth ignored could not be loaded.") };
    }
    this.update();
  }

  private reloadStatusSoon(): void {
    if (this.statusTimer !== undefined) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      void this.loadStatus();
    }, STATUS_RELOAD_MS);
  }

  /** Where the owner is signed in (the settings page). */
  private async loadSignIns(): Promise<void> {
    const signIns = this.backend.signIns;
    if (!signIns) return;
    try {
      this.state.signIns = { data: await signIns.list() };
    } catch (e) {
      this.state.signIns = { error: toApiError(e, "Where you are signed in could not be loaded.") };
    }
    this.update();
  }

  /** The device's traffic changed (a message was recorded, a rule changed): its broker view and
   *  review reload, at most once per DETAIL_RELOAD_MS. A reload already waiting is not pushed
   *  back, so a device sending many changes a second cannot keep its page stale. */
  private reloadBrokerSoon(id: DeviceId): void {
    if (this.brokerTimerFor === id) return;
    // One reload at a time: a slow hub is not sent a new one every DETAIL_RELOAD_MS; one more
    // follows when it answers.
    if (this.brokerReloading?.id === id) {
      this.brokerReloading.again = true;
      return;
    }
    clearTimeout(this.brokerTimer);
    this.brokerTimerFor = id;
    this.brokerTimer = setTimeout(async () => {
      this.brokerTimerFor = undefined;
      const flight = { id, again: false };
      this.brokerReloading = flight;
      try {
        const may = rightsOn(this.state.me, id);
        const none: Promise<Part> = Promise.resolve(() => ({}));
        // The controls and readings too: what a device reports arrives as its broker traffic.
        const [broker, review, controls, readings] = await Promise.all([
          isOwner(this.state.me) ? this.loadBrokerView(id) : none,
          may.review ? this.loadReview(id) : none,
          this.loadControls(id),
          this.loadReadings(id),
        ]);
        if (this.state.detail?.id === id && !this.state.detail.forgotten) {
          this.state.detail = { ...this.state.detail, ...broker(), ...review(), ...controls(), ...readings() };
          this.update();
        }
      } finally {
        // Only this flight's own bookkeeping: a page left meanwhile may have one of its own.
        if (this.brokerReloading === flight) {
          this.brokerReloading = undefined;
          if (flight.again && this.state.detail?.id === id) this.reloadBrokerSoon(id);
        }
      }
    }, DETAIL_RELOAD_MS);
  }

  /** Leaving a device's page: its waiting reload must not start, and answers still on their way
   *  must not be written (they would overtake the next page's first load, or land on this page
   *  if it is opened again meanwhile). */
  private cancelBrokerReload(): void {
    clearTimeout(this.brokerTimer);
    this.brokerTimerFor = undefined;
    this.brokerReloading = undefined;
    this.brokerGeneration++;
    this.reviewGeneration++;
    clearTimeout(this.networkTimer);
    this.networkTimer = undefined;
    this.networkGeneration++;
    this.controlsGeneration++;
    this.readingsGeneration++;
  }

  private reloadDetailSoon(id: DeviceId): void {
    clearTimeout(this.detailTimer);
    this.detailTimer = setTimeout(() => {
      if (this.state.detail?.id === id && !this.state.detail.forgotten) void this.loadDetail(id);
    }, DETAIL_RELOAD_MS);
  }

  // ---- live events ----

  private onEvent(e: HubEvent): void {
    if (e.type === "resync" || e.type === "rights_changed") {
      void this.rightsChanged();
      return;
    }
    if (this.queued) {
      this.queued.push(e);
      return;
    }
    this.applyToList(e);
    this.update();
  }

  private applyToList(e: HubEvent): void {
    switch (e.type) {
      case "device_seen":
      case "device_changed":
      case "device_lost":
        this.state.devices.set(e.device.id, e.device);
        // A device new to this page: what the person may do on it is not in `me` yet.
        if (this.state.me && !this.state.me.devices.some((r) => r.id === e.device.id)) this.reloadWhoSoon();
        if (this.state.detail?.id === e.device.id) this.reloadDetailSoon(e.device.id);
        // A device this page names was renamed: the name it shows changes too.
        else if (this.state.detail && !this.state.detail.forgotten && names(this.state.detail.broker, e.device.id)) this.reloadBrokerSoon(this.state.detail.id);
        break;
      case "device_removed":
        // A device this page names is gone (forgotten, or merged): with it its rules and holds.
        if (this.state.detail && this.state.detail.id !== e.id && !this.state.detail.forgotten && names(this.state.detail.broker, e.id)) {
          this.reloadBrokerSoon(this.state.detail.id);
        }
        this.removed(e.id, e.merged_into);
        break;
      case "broker_changed":
        // The hub also tells a device whose proposals another device's new rule concerns, and the
        // device whose client id a session holds; a device this page names changes it too.
        if (this.state.detail && !this.state.detail.forgotten && (this.state.detail.id === e.id || holdsClientIdOf(this.state.detail.broker, e.id))) {
          this.reloadBrokerSoon(this.state.detail.id);
        }
        this.reloadStatusSoon();
        break;
      case "sends_something_new":
        // The newest is on screen; the history and the review page list them all.
        this.addNews({ id: ++this.noticeSeq, kind: "change" as const, name: e.name, change: e.change });
        if (this.state.route.name === "review") void this.loadHome();
        break;
      case "destination_new":
        // The newest is on screen; the history and the device's page list them all.
        this.addNews({ id: ++this.noticeSeq, kind: "destination" as const, deviceId: e.id, deviceName: e.device_name, name: e.name });
        break;
      case "destinations_changed":
        if (this.state.detail?.id === e.id && !this.state.detail.forgotten) this.reloadNetworkSoon(e.id);
        if (this.state.route.name === "network") this.reloadHomeNetworkSoon();
        break;
      case "status_changed":
        void this.loadStatus();
        if (this.state.route.name === "network") this.reloadHomeNetworkSoon();
        break;
      case "identity_question": {
        // A banner (the same pair once), and the question on both records' pages and the review.
        const p = e.proposal;
        this.addNews(
          { id: ++this.noticeSeq, kind: "question" as const, proposal: p },
          (n) => !(n.kind === "question" && samePair(n.proposal, p.device_a, p.device_b)),
        );
        if (this.state.detail && [p.device_a, p.device_b].includes(this.state.detail.id)) {
          this.reloadDetailSoon(this.state.detail.id);
        }
        if (this.state.route.name === "review") void this.loadIdentity();
        break;
      }
      case "rights_changed":
      case "resync":
        break;
    }
  }

  /** `me` again, at most once per DETAIL_RELOAD_MS (devices appearing in a burst). */
  private reloadWhoSoon(): void {
    if (this.whoTimer !== undefined) return;
    this.whoTimer = setTimeout(() => {
      this.whoTimer = undefined;
      this.whoReady = this.family.loadWho();
    }, DETAIL_RELOAD_MS);
  }

  /** Members, rooms or rights changed (or events may have been missed): who is asking may see
   *  other devices and do other things now. Everything shown is read again, `me` first. */
  private async rightsChanged(): Promise<void> {
    this.whoReady = this.family.loadWho();
    await this.whoReady;
    void this.loadList();
    void this.loadStatus();
    const detail = this.state.detail;
    if (detail && !detail.forgotten) this.reloadDetailSoon(detail.id);
    switch (this.state.route.name) {
      case "household":
        void this.family.loadHousehold();
        break;
      case "device":
        void this.family.loadGrants();
        break;
      case "activity":
        void this.family.loadActivity();
        break;
      case "review":
        void this.loadHome();
        break;
      case "network":
        if (mayConfigureHome(this.state.me)) void this.loadHomeNetwork();
        break;
      case "settings":
        void this.loadSignIns();
        break;
      default:
        break;
    }
  }

  private removed(id: DeviceId, mergedInto: DeviceId | null): void {
    const row = this.root.querySelector(`[data-device-id="${CSS.escape(id)}"]`);
    const hadFocus = row?.contains(document.activeElement) ?? false;
    this.state.devices.delete(id);
    this.state.busy.delete(id);
    if (this.state.forgetting?.id === id) this.state.forgetting = undefined;
    if (this.state.detail?.id === id) {
      if (mergedInto) {
        // Same physical device as another record: show that one.
        location.hash = `#/devices/${encodeURIComponent(mergedInto)}`;
      } else {
        this.state.detail = { id, forgotten: true };
      }
    }
    if (hadFocus) this.focusAfterRender = () => this.root.querySelector<HTMLElement>("[data-testid=search]")?.focus();
  }

  // ---- actions (called by the views) ----

  setFilters(f: Partial<Filters>): void {
    this.state.filters = { ...this.state.filters, ...f };
    this.state.listOrder = undefined;
    this.update();
  }

  clearFilters(): void {
    this.state.filters = { ...NO_FILTERS };
    this.state.listOrder = undefined;
    this.focusAfterRender = () => this.root.querySelector<HTMLElement>("[data-testid=search]")?.focus();
    this.update();
  }

  approveAll(devices: Device[]): void {
    const waiting = devices.filter((d) => d.state === "new" && !this.state.busy.has(d.id));
    if (waiting.length === 0) return;
    this.keepListOrder();
    void (async () => {
      const done: Device[] = [];
      for (const d of waiting) {
        this.state.busy.add(d.id);
        this.update();
        try {
          const updated = await this.backend.decide(d.id, "approve");
          if (this.state.devices.has(updated.id)) this.state.devices.set(updated.id, updated);
          done.push(updated);
        } catch (e) {
          this.notify(e, `Could not approve ${d.name}.`);
        } finally {
          this.state.busy.delete(d.id);
        }
      }
      if (done.length === 0) {
        this.update();
        return;
      }
      this.state.undo = { ids: done.map((d) => d.id), names: done.map((d) => d.name) };
      this.announce(`Approved ${done.length === 1 ? done[0]?.name : `${done.length} devices`}. Undo is offered.`);
      this.update();
      // The undo stays for a while, long enough to read and reach by keyboard.
      window.clearTimeout(this.undoTimer);
      this.undoTimer = window.setTimeout(() => {
        this.state.undo = undefined;
        this.update();
      }, 15_000);
    })();
  }

  undoApproveAll(): void {
    const undo = this.state.undo;
    if (!undo) return;
    this.state.undo = undefined;
    window.clearTimeout(this.undoTimer);
    void (async () => {
      for (const id of undo.ids) {
        try {
          const back = await this.backend.decide(id, "quarantine");
          if (this.state.devices.has(back.id)) this.state.devices.set(back.id, back);
        } catch (e) {
          this.notify(e, `Could not put ${this.state.devices.get(id)?.name ?? id} back in quarantine.`);
        }
      }
      this.announce(`Put ${undo.ids.length === 1 ? undo.names[0] : `${undo.ids.length} devices`} back in quarantine.`);
      this.update();
    })();
  }

  private undoTimer = 0;

  /** Rows keep the place they had when the person decided (see `AppState.listOrder`). */
  private keepListOrder(): void {
    if (this.state.route.name !== "list" || this.state.listOrder) return;
    this.state.listOrder = [...this.state.devices.values()].filter((d) => matches(d, this.state.filters)).sort(compareDevices).map((d) => d.id);
  }

  decide(device: Device, decision: Verdict): void {
    this.keepListOrder();
    void this.run(device, async () => {
      const updated = await this.backend.decide(device.id, decision);
      if (this.state.devices.has(updated.id)) this.state.devices.set(updated.id, updated);
      if (this.state.detail?.id === updated.id) this.reloadDetailSoon(updated.id);
      this.announce(`${updated.name} is now ${STATE_LABELS[updated.state].toLowerCase()}.`);
      this.keepFocusInRow(updated.id);
    }, `Could not ${decision} ${device.name}.`);
  }

  askForget(device: Device, trigger: HTMLElement | null): void {
    this.forgetTrigger = trigger;
    this.state.forgetting = device;
    this.update();
  }

  cancelForget(): void {
    if (!this.state.forgetting) return;
    this.state.forgetting = undefined;
    const trigger = this.forgetTrigger;
    this.forgetTrigger = null;
    this.focusAfterRender = () => {
      if (trigger?.isConnected) trigger.focus();
    };
    this.update();
  }

  confirmForget(): void {
    const device = this.state.forgetting;
    if (!device) return;
    this.state.forgetting = undefined;
    this.forgetTrigger = null;
    this.update();
    void this.run(device, async () => {
      await this.backend.forget(device.id);
      const wasOpen = this.state.detail?.id === device.id;
      this.removed(device.id, null);
      this.announce(`Forgot ${device.name}.`);
      if (wasOpen) {
        location.hash = "#/";
      } else {
        this.focusAfterRender = () => this.root.querySelector<HTMLElement>("[data-testid=search]")?.focus();
      }
    }, `Could not forget ${device.name}.`);
  }

  dismissNews(id: number): void {
    this.state.news = this.state.news.filter((n) => n.id !== id);
    this.update();
  }

  toggleMenu(open?: boolean): void {
    this.state.menuOpen = open ?? !this.state.menuOpen;
    this.update();
  }

  clearNotifications(): void {
    this.history.clear();
    this.historyChanged();
    this.announce("The notification history is empty.");
  }

  dismissNotice(id: number): void {
    this.state.notices = this.state.notices.filter((n) => n.id !== id);
    this.update();
  }

  retry(): void {
    this.state.loadError = undefined;
    void this.loadList();
    void this.loadStatus();
    const detail = this.state.detail;
    if (detail) {
      this.state.detail = { id: detail.id };
      void this.loadDetail(detail.id);
    }
    this.update();
  }

  credential(device: Device, action: CredentialAction): void {
    void this.run(device, async () => {
      const issued = await this.backend.credential(device.id, action);
      if (issued) await this.showSecret(device.name, issued);
      else this.announce(`The MQTT credential of ${device.name} is revoked.`);
      this.reloadBrokerSoon(device.id);
    }, action === "rotate" ? `Could not issue a credential for ${device.name}.` : `Could not revoke the credential of ${device.name}.`);
  }

  askCredential(device: Device, action: CredentialAction, trigger: HTMLElement | null): void {
    this.credentialTrigger = trigger;
    this.state.confirmingCredential = { device, action };
    this.update();
  }

  cancelCredential(): void {
    if (!this.state.confirmingCredential) return;
    this.state.confirmingCredential = undefined;
    const trigger = this.credentialTrigger;
    this.credentialTrigger = null;
    this.focusAfterRender = () => {
      if (trigger?.isConnected) trigger.focus();
    };
    this.update();
  }

  confirmCredential(): void {
    const asked = this.state.confirmingCredential;
    if (!asked) return;
    this.state.confirmingCredential = undefined;
    this.credentialTrigger = null;
    this.credential(asked.device, asked.action);
  }

  async setTopicRule(device: Device, direction: Direction, pattern: string, rule: RuleChoice): Promise<boolean> {
    let done = false;
    await this.run(device, async () => {
      const broker = await this.backend.setTopicRule(device.id, { direction, pattern, rule });
      if (this.state.detail?.id === device.id) this.showBroker(broker);
      this.announce(`${device.name} may ${rule === "allow" ? "now" : "no longer"} ${direction} ${pattern}.`);
      done = true;
    }, `Could not change the topics of ${device.name}.`);
    return done;
  }

  bindClientId(device: Device, clientId: string | null): void {
    void this.run(device, async () => {
      const broker = await this.backend.bindClientId(device.id, clientId);
      if (this.state.detail?.id === device.id) this.showBroker(broker);
      this.announce(clientId ? `${device.name}'s credential now works only for client id ${clientId}.` : `${device.name}'s credential works for any client id again.`);
    }, `Could not change the client id binding of ${device.name}.`);
  }

  setAnonymous(device: Device, access: AnonymousAccess | null): void {
    void this.run(device, async () => {
      const broker = await this.backend.setAnonymous(device.id, access);
      if (this.state.detail?.id === device.id) this.showBroker(broker);
      this.announce(
        access
          ? `${device.name} may now connect without a credential, as client id ${access.client_id}${access.address ? ` from ${access.address}` : ""}.`
          : `${device.name} needs its credential to connect again.`,
      );
    }, `Could not change how ${device.name} connects.`);
  }

  setReviewRange(range: ReviewRange): void {
    this.state.reviewRange = range;
    this.state.reviewRangeChosen = true;
    const detail = this.state.detail;
    if (detail && !detail.forgotten) this.reloadBrokerSoon(detail.id);
    if (this.state.route.name === "review") void this.loadHome();
    this.update();
  }

  setRetention(device: Device, category: Category, retention: Retention | null): void {
    void this.run(device, async () => {
      const privacy = await this.backend.setRetention(device.id, { category, retention });
      if (this.state.detail?.id === device.id) this.state.detail = { ...this.state.detail, privacy };
      const label = CATEGORY_LABELS[category].toLowerCase();
      this.announce(retention ? `Hearth keeps ${label} data of ${device.name}: ${retentionLabel(retention).toLowerCase()}.` : `${device.name}'s ${label} data is kept as by default.`);
      this.reloadBrokerSoon(device.id);
    }, `Could not change how long ${device.name}'s data is kept.`);
  }

  setRedaction(device: Device, path: string, redact: boolean): void {
    void this.run(device, async () => {
      const privacy = await this.backend.setRedaction(device.id, { path, redact });
      if (this.state.detail?.id === device.id) this.state.detail = { ...this.state.detail, privacy };
      this.announce(redact ? `${path} is removed from ${device.name}'s messages from now on.` : `${path} is kept in ${device.name}'s messages again.`);
      this.reloadBrokerSoon(device.id);
    }, `Could not change the redacted fields of ${device.name}.`);
  }

  exportDevice(device: Device, format: "json" | "csv"): void {
    void this.run(device, async () => {
      if (format === "json") {
        const everything = await this.backend.exportDevice(device.id);
        download(`hearth-${device.id}.json`, "application/json", JSON.stringify(everything, null, 2));
      } else {
        const csv = this.backend.exportCsv;
        // The button is not offered where there is no CSV (the desktop window).
        if (!csv) throw new BackendError("bad_request", "This window saves the JSON export only; open Hearth in a browser for the CSV.");
        download(`hearth-${device.id}-messages.csv`, "text/csv", await csv(device.id));
      }
      this.announce(`Exported ${device.name}.`);
    }, `Could not export ${device.name}.`);
  }

  applySuggestion(device: Device, suggestion: Suggestion): void {
    void this.run(device, async () => {
      let broker: BrokerView | undefined;
      for (const r of suggestion.rules) {
        broker = await this.backend.setTopicRule(device.id, { direction: r.direction, pattern: r.pattern, rule: "allow" });
      }
      if (broker && this.state.detail?.id === device.id) this.showBroker(broker);
      this.announce(`${device.name} may now use ${suggestion.firmware}'s usual topics for ${suggestion.prefix}.`);
    }, `Could not allow ${suggestion.firmware}'s topics for ${device.name}.`);
  }

  rename(device: Device, name: string): void {
    void this.run(device, async () => {
      const renamed = await this.backend.rename(device.id, name);
      this.state.devices.set(renamed.id, renamed);
      if (this.state.detail?.id === renamed.id) this.reloadDetailSoon(renamed.id);
      this.announce(`${device.name} is now called ${renamed.name}.`);
    }, `Could not rename ${device.name}.`);
  }

  addDevice(name: string): void {
    void (async () => {
      try {
        const added = await this.backend.addDevice(name);
        this.state.devices.set(added.device.id, added.device);
        await this.showSecret(added.device.name, added.credential);
      } catch (e) {
        this.notify(e, `Could not add ${name}.`);
      }
    })();
  }

  askConfirm(confirmation: Confirmation, trigger: HTMLElement | null): void {
    this.confirmTrigger = trigger;
    this.state.confirming = confirmation;
    this.update();
  }

  cancelConfirm(): void {
    // Closing the <dialog> fires its close event after a button already settled it.
    if (!this.state.confirming) return;
    this.state.confirming = undefined;
    const trigger = this.confirmTrigger;
    this.confirmTrigger = null;
    this.focusAfterRender = () => {
      if (trigger?.isConnected) trigger.focus();
    };
    this.update();
  }

  confirm(): void {
    const c = this.state.confirming;
    if (!c) return;
    this.state.confirming = undefined;
    this.confirmTrigger = null;
    this.update();
    if (c.kind === "allow_topic") {
      void this.setTopicRule(c.device, c.rule.direction, c.rule.pattern, "allow").then((done) => {
        // Its proposal became a rule: focus goes to the section rather than to the page.
        if (done) this.focusAfterRender = () => this.root.querySelector<HTMLElement>("#h-topics")?.focus();
        this.update();
      });
    } else if (c.kind === "give_entity") {
      this.giveEntity(c.device, c.contest);
    } else if (c.kind === "remove_member") {
      this.family.removeMember(c.member);
    } else if (c.kind === "remove_room") {
      this.family.removeRoom(c.room);
    } else if (c.kind === "retention") {
      this.setRetention(c.device, c.category, c.retention);
    } else {
      this.operate(c.device, c.control, c.action, true);
    }
  }

  control(device: Device, control: ControlView, action: ControlAction, trigger: HTMLElement | null): void {
    // Locks open the home: the hub wants it confirmed, and so does the person.
    if (control.needs_confirmation) this.askConfirm({ kind: "control", device, control, action }, trigger);
    else this.operate(device, control, action, false);
  }

  private operate(device: Device, control: ControlView, action: ControlAction, confirm: boolean): void {
    const verb = ACTION_LABELS[action].verb.toLowerCase();
    void this.run(device, async () => {
      const view = await this.backend.control(device.id, control.entity, action, confirm);
      const detail = this.state.detail;
      if (detail?.id === device.id && detail.controls) {
        this.controlsGeneration++;
        this.state.detail = { ...detail, controls: detail.controls.map((c) => (c.entity === view.entity ? view : c)) };
      }
      // Sent, not done: what the device reports next shows whether it did.
      this.announce(`Sent: ${verb} ${control.name}. Its state shows what it reports next.`);
      this.reloadBrokerSoon(device.id);
    }, `Could not ${verb} ${control.name}.`);
  }

  /** Signs this browser out: its session ends, and the hub's sign-in page follows. */
  signOutHere(): void {
    const signIns = this.backend.signIns;
    if (!signIns || this.state.signingOut.has("here")) return;
    this.state.signingOut.add("here");
    this.update();
    void (async () => {
      try {
        const current = (await signIns.list()).find((x) => x.current);
        if (current) await signIns.end(current.id);
        location.reload();
      } catch (e) {
        this.notify(e, "Could not sign this browser out.");
        this.state.signingOut.delete("here");
        this.update();
      }
    })();
  }

  private giveEntity(device: Device, contest: ContestView): void {
    void this.run(device, async () => {
      const broker = await this.backend.giveEntity(device.id, contest.claim);
      if (this.state.detail?.id === device.id) this.showBroker(broker);
      this.announce(`${contest.claim.value} is ${device.name}'s now; ${contest.holder_name} no longer describes it.`);
      this.focusAfterRender = () => this.root.querySelector<HTMLElement>("#h-described")?.focus();
    }, `Could not give ${contest.claim.value} to ${device.name}.`);
  }

  answerMerge(device: Device, other: { id: DeviceId; name: string }, answer: MergeChoice): void {
    void this.run(device, async () => {
      const kept = await this.backend.answerMerge(device.id, { other: other.id, answer });
      this.state.news = this.state.news.filter((n) => !(n.kind === "question" && samePair(n.proposal, device.id, other.id)));
      this.state.devices.set(kept.device.id, kept.device);
      if (answer === "merge") {
        // The other record is gone (its `device_removed` event says so too).
        for (const id of [device.id, other.id]) if (id !== kept.device.id) this.state.devices.delete(id);
        this.announce(`${device.name} and ${other.name} are one device now: ${kept.device.name}, ${STATE_LABELS[kept.device.state].toLowerCase()}.`);
      } else {
        this.announce(`Hearth will not ask again whether ${device.name} and ${other.name} are one device.`);
      }
      if (this.state.detail?.id === kept.device.id) {
        this.state.detail = { ...this.state.detail, data: kept };
        this.reloadBrokerSoon(kept.device.id);
        // The question and its buttons are gone: focus goes back to the top of the page.
        this.focusAfterRender = () => this.root.querySelector<HTMLElement>("#page-title")?.focus();
      } else if (this.state.route.name === "device") {
        // Merged into the other record: that one is the device now.
        location.hash = `#/devices/${encodeURIComponent(kept.device.id)}`;
      }
      if (this.state.route.name === "review") void this.loadIdentity();
    }, answer === "merge" ? `Could not merge ${device.name} with ${other.name}.` : `Could not keep ${device.name} and ${other.name} apart.`);
  }

  closeSecret(): void {
    // Closing the <dialog> (Escape) fires its close event after the button already closed it.
    if (!this.state.secret) return;
    this.state.secret = undefined;
    this.announce("The secret is hidden now.");
    this.focusAfterRender = () => this.root.querySelector<HTMLElement>("#page-title")?.focus();
    this.update();
  }

  private async showSecret(deviceName: string, credential: IssuedCredential): Promise<void> {
    const [host, port] = splitHostPort(credential.broker.split(", ")[0] ?? "");
    const uri = `mqtt://${encodeURIComponent(credential.username)}:${encodeURIComponent(credential.password)}@${host}:${port}`;
    let qr: string | undefined;
    // No broker address (the broker is off): no code that would point a device nowhere.
    if (/^[^(]/.test(credential.broker)) {
      try {
        qr = await QRCode.toDataURL(uri, { margin: 1, width: 180 });
      } catch {
        qr = undefined; // the text is what matters; the code is a convenience
      }
    }
    this.state.secret = { deviceName, credential, qr };
    this.focusAfterRender = () => this.root.querySelector<HTMLElement>("#secret-title")?.focus();
    this.update();
  }

  signOut(session: BrowserSession): void {
    const signIns = this.backend.signIns;
    if (!signIns || this.state.signingOut.has(session.id)) return;
    this.state.signingOut.add(session.id);
    this.update();
    void (async () => {
      try {
        await signIns.end(session.id);
        if (session.current) {
          // This browser is signed out: the hub's page says how to sign in again.
          location.reload();
          return;
        }
        this.announce(`${session.browser}, from ${session.address}, is signed out.`);
        // Its row goes: keep focus on the section rather than losing it to the page.
        this.focusAfterRender = () => this.root.querySelector<HTMLElement>("#signed-in-title")?.focus();
        await this.loadSignIns();
      } catch (e) {
        this.notify(e, `Could not sign out ${session.browser}.`);
      } finally {
        this.state.signingOut.delete(session.id);
        this.update();
      }
    })();
  }

  signOutOthers(): void {
    const signIns = this.backend.signIns;
    if (!signIns || this.state.signingOut.has("others")) return;
    this.state.signingOut.add("others");
    this.update();
    void (async () => {
      try {
        const { ended } = await signIns.endOthers();
        this.announce(ended === 1 ? "1 other browser is signed out." : `${ended} other browsers are signed out.`);
        this.focusAfterRender = () => this.root.querySelector<HTMLElement>("#signed-in-title")?.focus();
        await this.loadSignIns();
      } catch (e) {
        this.notify(e, "Could not sign out the other browsers.");
      } finally {
        this.state.signingOut.delete("others");
        this.update();
      }
    })();
  }

  setInternetLevel(device: Device, level: InternetLevel): void {
    if (this.state.busy.has(device.id)) {
      // The radio moved but nothing was sent: the next render puts it back where it is.
      this.update();
      return;
    }
    void this.run(device, async () => {
      this.showNetwork(device.id, await this.backend.setInternetLevel(device.id, level));
      const chosen = LEVELS.find((l) => l.level === level);
      this.announce(`${device.name}: ${chosen ? `${chosen.label.toLowerCase()}, ${chosen.meaning}` : level}.`);
    }, `Could not change how far ${device.name} may reach.`);
  }

  async setDomain(device: Device, domain: string, choice: DomainChoice): Promise<boolean> {
    let done = false;
    await this.run(device, async () => {
      this.showNetwork(device.id, await this.backend.setDomain(device.id, { domain, choice }));
      this.announce(
        choice === "allow"
          ? `${device.name} may reach ${domain} now.`
          : choice === "deny"
            ? `${device.name} may no longer reach ${domain}.`
            : `The rule for ${domain} is removed.`,
      );
      // The pressed button may be gone (a waiting name was decided): keep focus in the section.
      this.keepFocusIn("#h-internet");
      done = true;
    }, `Could not change ${domain} for ${device.name}.`);
    return done;
  }

  allowWaiting(device: Device): void {
    void this.run(device, async () => {
      const before = this.state.detail?.network?.destinations.filter((x) => x.waiting).length ?? 0;
      this.showNetwork(device.id, await this.backend.allowWaiting(device.id));
      this.announce(`${device.name} may reach the ${before === 1 ? "name" : `${before} names`} it was waiting for.`);
      this.keepFocusIn("#h-internet");
    }, `Could not allow what ${device.name} was waiting for.`);
  }

  exportFirewall(format: FirewallFormat): void {
    void (async () => {
      try {
        const text = await this.backend.exportFirewall(format);
        download(format === "nft" ? "hearth.nft" : "hearth-openwrt.txt", "text/plain", text);
        this.announce(format === "nft" ? "Saved the firewall rules for nftables." : "Saved the firewall rules for OpenWrt.");
      } catch (e) {
        this.notify(e, "Could not export the firewall rules.");
      }
    })();
  }

  /** If the focused button went away with the render, focus goes to `heading` (not to the page). */
  private keepFocusIn(heading: string): void {
    this.focusAfterRender = () => {
      const active = document.activeElement;
      if (active && active !== document.body && active.isConnected) return;
      this.root.querySelector<HTMLElement>(heading)?.focus();
    };
  }

  private async run(device: Device, action: () => Promise<void>, failure: string): Promise<void> {
    if (this.state.busy.has(device.id)) return;
    this.state.busy.add(device.id);
    this.update();
    try {
      await action();
    } catch (e) {
      this.notify(e, failure);
    } finally {
      this.state.busy.delete(device.id);
      this.update();
    }
  }

  /**
   * A decision swaps the buttons; if the pressed one vanished, put focus on the device's name
   * (not on the next button: a second Enter must not make another decision).
   */
  private keepFocusInRow(id: DeviceId): void {
    this.focusAfterRender = () => {
      const active = document.activeElement;
      if (active && active !== document.body && active.isConnected) return;
      const target =
        this.state.route.name === "device"
          ? this.root.querySelector<HTMLElement>("#page-title")
          : this.root.querySelector<HTMLElement>(`[data-device-id="${CSS.escape(id)}"] .device-name`);
      target?.focus();
    };
  }
}

/** Whether a question is about these two records (in either order). */
function samePair(p: MergeProposal, a: DeviceId, b: DeviceId): boolean {
  return (p.device_a === a && p.device_b === b) || (p.device_a === b && p.device_b === a);
}

/** `10.0.0.2:1883` or `[fd00::2]:1883` → host and port. */
function splitHostPort(address: string): [string, string] {
  const at = address.lastIndexOf(":");
  return at > 0 ? [address.slice(0, at), address.slice(at + 1)] : [address, "1883"];
}
