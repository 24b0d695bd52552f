// The household's side of the controller: who is asking (`me`), members and invitations, rights,
// rooms, the activity and passwords. It owns those parts of the state; `app.ts` owns the rest
// and hands this what it needs (`Host`) rather than the whole app.

import QRCode from "qrcode";
import { type Backend, toApiError } from "./api/backend";
import type { ApiError } from "./generated/ApiError";
import type { Device } from "./generated/Device";
import type { DeviceId } from "./generated/DeviceId";
import type { GrantRequest } from "./generated/GrantRequest";
import type { GrantView } from "./generated/GrantView";
import type { MemberView } from "./generated/MemberView";
import type { Role } from "./generated/Role";
import type { RoomView } from "./generated/RoomView";
import { memberName, ROLE_IN_A_SENTENCE, sharesGiven, untilLabel } from "./family-model";
import type { ActivityFilters, AppState, Confirmation, FamilyActions } from "./state";

/** What the household side needs from the app. */
export interface Host {
  readonly state: AppState;
  readonly backend: Backend;
  readonly root: HTMLElement;
  update(): void;
  notify(e: unknown, fallback: string): void;
  announce(text: string): void;
  /** Runs after the next render (focus moves). */
  afterRender(fn: () => void): void;
  askConfirm(confirmation: Confirmation, trigger: HTMLElement | null): void;
}

/** The activity's time filter as the hub reads it (`since`); "" is all of it. */
const ACTIVITY_SINCE: Record<ActivityFilters["since"], string | undefined> = { "24h": "24h", "7d": "7d", "30d": "30d", "": undefined };

export class Family implements FamilyActions {
  private whoGeneration = 0;
  private householdGeneration = 0;
  private activityGeneration = 0;

  constructor(private readonly host: Host) {}

  private get state(): AppState {
    return this.host.state;
  }

  private get backend(): Backend {
    return this.host.backend;
  }

  // ---- loading ----

  /** Who is asking, the household and its rooms. Never rejects: without `me`, nothing is hidden
   *  (the hub still refuses what the person may not do). An answer overtaken by a later load
   *  changes nothing. */
  async loadWho(): Promise<void> {
    const generation = ++this.whoGeneration;
    const [me, members, rooms] = await Promise.allSettled([this.backend.me(), this.backend.members(), this.backend.rooms()]);
    if (generation !== this.whoGeneration) return;
    if (me.status === "fulfilled") this.state.me = me.value;
    else if (this.state.loaded) this.host.notify(me.reason, "Who you are could not be loaded: this page may offer what you may not do.");
    if (members.status === "fulfilled") this.state.members = members.value;
    if (rooms.status === "fulfilled") this.state.rooms = rooms.value;
    this.host.update();
  }

  /** The household page: rights, with the members and rooms. */
  async loadHousehold(): Promise<void> {
    void this.loadWho();
    await this.loadGrants();
  }

  /** The grants the asker may read (an owner: everyone's; others: their own and the shares they
   *  gave), for the household page and a device page's shares. */
  async loadGrants(): Promise<void> {
    const generation = ++this.householdGeneration;
    try {
      const grants = await this.backend.grants();
      if (generation !== this.householdGeneration) return;
      this.state.household = { grants };
    } catch (e) {
      if (generation !== this.householdGeneration) return;
      this.state.household = { error: toApiError(e, "The household's rights could not be loaded.") };
    }
    this.host.update();
  }

  /** The activity from its newest row (`more`: the page older than the ones shown). */
  async loadActivity(more = false): Promise<void> {
    const generation = ++this.activityGeneration;
    const shown = this.state.activity;
    const before = more && shown?.nextBefore != null ? shown.nextBefore : undefined;
    const f = this.state.activityFilters;
    this.state.activity = { entries: more ? (shown?.entries ?? []) : [], nextBefore: shown?.nextBefore ?? null, loaded: more, loading: true };
    this.host.update();
    try {
      const page = await this.backend.audit({
        member: f.member || undefined,
        device: f.device || undefined,
        since: ACTIVITY_SINCE[f.since],
        before,
      });
      if (generation !== this.activityGeneration) return;
      const entries = more ? [...(this.state.activity?.entries ?? []), ...page.entries] : page.entries;
      this.state.activity = { entries, nextBefore: page.next_before, loaded: true, loading: false };
      if (more && page.entries[0]) {
        // The first new row, so the keyboard carries on from where the list grew.
        const first = page.entries[0].id;
        this.host.afterRender(() => this.host.root.querySelector<HTMLElement>(`[data-audit-id="${first}"]`)?.focus());
      }
    } catch (e) {
      if (generation !== this.activityGeneration) return;
      this.state.activity = {
        entries: this.state.activity?.entries ?? [],
        nextBefore: null,
        loaded: true,
        loading: false,
        error: toApiError(e, "The activity could not be loaded."),
      };
    }
    this.host.update();
  }

  // ---- members ----

  async addMember(name: string, role: Role): Promise<boolean> {
    return this.busy("add-member", `Could not add ${name}.`, async () => {
      const added = await this.backend.addMember(name, role);
      this.state.members = withOne(this.state.members, added, (m) => m.id);
      this.host.announce(`${added.name} is in the household now, as ${ROLE_IN_A_SENTENCE[added.role]}. Invite them to give them a sign-in link.`);
      void this.loadHousehold();
    });
  }

  changeRole(member: MemberView, role: Role): void {
    if (role === member.role) return;
    void this.busy(`member:${member.id}`, `Could not change ${member.name}'s role.`, async () => {
      const changed = await this.backend.changeMember(member.id, { role });
      this.state.members = this.state.members.map((m) => (m.id === changed.id ? changed : m));
      this.host.announce(`${changed.name} is ${ROLE_IN_A_SENTENCE[changed.role]} now.`);
      void this.loadHousehold();
    }).then((done) => {
      // Refused: the select goes back to the role they have.
      if (!done) this.host.update();
    });
  }

  askRemoveMember(member: MemberView, trigger: HTMLElement | null): void {
    this.host.askConfirm({ kind: "remove_member", member }, trigger);
  }

  resetPassword(member: MemberView): void {
    void this.busy(`member:${member.id}`, `Could not reset ${member.name}'s password.`, async () => {
      await this.backend.resetPassword(member.id);
      this.host.announce(`${member.name}'s password is cleared; invite them again so they can choose a new one. They see that you did.`);
      await this.loadHousehold();
    });
  }

  removeMember(member: MemberView): void {
    void this.busy(`member:${member.id}`, `Could not remove ${member.name}.`, async () => {
      await this.backend.removeMember(member.id);
      this.state.members = this.state.members.filter((m) => m.id !== member.id);
      if (this.state.inviting?.member.id === member.id) this.state.inviting = undefined;
      this.host.announce(`${member.name} is no longer in the household; their browsers are signed out.`);
      this.host.afterRender(() => this.host.root.querySelector<HTMLElement>("#h-people")?.focus());
      void this.loadHousehold();
    });
  }

  // ---- invitations ----

  startInvite(member: MemberView): void {
    this.state.inviting = { member };
    this.host.afterRender(() => this.host.root.querySelector<HTMLElement>("[data-testid=invite-hours]")?.focus());
    this.host.update();
  }

  cancelInvite(): void {
    const member = this.state.inviting?.member;
    this.state.inviting = undefined;
    if (member) {
      this.host.afterRender(() =>
        this.host.root.querySelector<HTMLElement>(`[data-member-id="${CSS.escape(member.id)}"] [data-testid=invite]`)?.focus(),
      );
    }
    this.host.update();
  }

  invite(member: MemberView, hours: number): void {
    void this.busy(`member:${member.id}`, `Could not make an invitation for ${member.name}.`, async () => {
      const invitation = await this.backend.invite(member.id, hours);
      // The desktop window's own address (tauri://…) means nothing to a phone: the link needs
      // the hub's address on the home network, which only a browser page has.
      const url = this.state.desktop ? undefined : new URL(invitation.path, location.origin).href;
      let qr: string | undefined;
      if (url) {
        try {
          // The `qrcode` package (already used for device credentials) draws it as a PNG data:
          // URL, which the hub's CSP allows for images; no second QR library is needed.
          qr = await QRCode.toDataURL(url, { margin: 1, width: 200 });
        } catch {
          qr = undefined; // the link is what matters; the code is a convenience
        }
      }
      this.state.inviting = { member, made: { invitation, url, qr } };
      this.host.announce(`An invitation link for ${member.name} is ready.`);
      this.host.afterRender(() => this.host.root.querySelector<HTMLElement>("#invitation-title")?.focus());
    });
  }

  copyInvitation(): void {
    const made = this.state.inviting?.made;
    if (!made) return;
    const text = made.url ?? made.invitation.path;
    const field = this.host.root.querySelector<HTMLInputElement>("[data-testid=invitation-link]");
    void (async () => {
      try {
        // The clipboard API needs a secure page (https, or this computer); a hub reached over
        // plain http on the home network is not one, so the old way is the fallback.
        if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text);
        else {
          field?.select();
          if (!document.execCommand("copy")) throw new Error("copy refused");
        }
        this.host.announce("The link is copied.");
      } catch {
        field?.focus();
        field?.select();
        this.host.announce("The link could not be copied by the page: it is selected, copy it with your keyboard.");
      }
    })();
  }

  // ---- rights ----

  async addGrant(grant: GrantRequest): Promise<boolean> {
    const who = memberName(this.state.members, grant.member);
    return this.busy(`grants:${grant.member}`, `Could not give ${who} this right.`, async () => {
      const added = await this.backend.addGrant(grant);
      const grants = this.state.household?.grants ?? [];
      this.state.household = { grants: withOne(grants, added, (g) => g.grant.id) };
      this.host.announce(`${who}: ${added.grant.effect === "allow" ? "given" : "taken away"}, on ${added.target_name}.`);
      void this.loadHousehold();
    });
  }

  removeGrant(grant: GrantView): void {
    void this.busy(`grant:${grant.grant.id}`, `Could not remove this right of ${grant.member_name}.`, async () => {
      await this.backend.removeGrant(grant.grant.id);
      const grants = this.state.household?.grants ?? [];
      this.state.household = { grants: grants.filter((g) => g.grant.id !== grant.grant.id) };
      this.host.announce(`Removed: ${grant.member_name}'s right on ${grant.target_name}.`);
      this.host.afterRender(() => {
        const active = document.activeElement;
        if (active && active !== document.body && active.isConnected) return;
        this.host.root.querySelector<HTMLElement>(`[data-rights-for="${CSS.escape(grant.grant.member)}"] h3`)?.focus();
      });
      void this.loadHousehold();
    });
  }

  // ---- rooms ----

  async addRoom(name: string): Promise<boolean> {
    return this.busy("add-room", `Could not add the room ${name}.`, async () => {
      const room = await this.backend.addRoom(name);
      this.state.rooms = withOne(this.state.rooms, room, (r) => r.id);
      this.host.announce(`Added the room ${room.name}. Put devices in it from their pages.`);
    });
  }

  startRenameRoom(room: RoomView | undefined): void {
    const before = this.state.renamingRoom;
    this.state.renamingRoom = room?.id;
    this.host.afterRender(() => {
      const selector = room ? `[data-room-id="${room.id}"] input[name=name]` : `[data-room-id="${before}"] [data-testid=rename-room]`;
      this.host.root.querySelector<HTMLElement>(selector)?.focus();
    });
    this.host.update();
  }

  async renameRoom(room: RoomView, name: string): Promise<boolean> {
    return this.busy(`room:${room.id}`, `Could not rename ${room.name}.`, async () => {
      const renamed = await this.backend.renameRoom(room.id, name);
      this.state.rooms = this.state.rooms.map((r) => (r.id === renamed.id ? { ...renamed, devices: r.devices } : r));
      this.state.renamingRoom = undefined;
      this.host.announce(`${room.name} is called ${renamed.name} now.`);
      this.host.afterRender(() => this.host.root.querySelector<HTMLElement>(`[data-room-id="${room.id}"] [data-testid=rename-room]`)?.focus());
    });
  }

  askRemoveRoom(room: RoomView, trigger: HTMLElement | null): void {
    this.host.askConfirm({ kind: "remove_room", room }, trigger);
  }

  removeRoom(room: RoomView): void {
    void this.busy(`room:${room.id}`, `Could not remove ${room.name}.`, async () => {
      await this.backend.removeRoom(room.id);
      this.state.rooms = this.state.rooms.filter((r) => r.id !== room.id);
      this.host.announce(`Removed the room ${room.name}; its devices are in no room now.`);
      this.host.afterRender(() => this.host.root.querySelector<HTMLElement>("#h-rooms")?.focus());
      void this.loadHousehold();
    });
  }

  setRoom(device: Device, room: number | null): void {
    if (device.room === room) return;
    void this.busy(`device:${device.id}`, `Could not move ${device.name}.`, async () => {
      const moved = await this.backend.setRoom(device.id, room);
      this.state.devices.set(moved.id, moved);
      const name = this.state.rooms.find((r) => r.id === room)?.name;
      this.host.announce(name ? `${moved.name} is in ${name} now.` : `${moved.name} is in no room now.`);
      void this.loadWho(); // the rooms' device counts
    }).then((done) => {
      if (!done) this.host.update();
    });
  }

  setPersonal(device: Device, member: string | null): void {
    if (device.member === member) return;
    void this.busy(`device:${device.id}`, `Could not change whose device ${device.name} is.`, async () => {
      const changed = await this.backend.setPersonal(device.id, member);
      this.state.devices.set(changed.id, changed);
      this.host.announce(member ? `${changed.name} is ${memberName(this.state.members, member)}'s own device now.` : `${changed.name} is the household's now.`);
    }).then((done) => {
      if (!done) this.host.update();
    });
  }

  // ---- sharing one's own device ----

  async share(device: Device, member: string, hours: number | null): Promise<boolean> {
    // Someone who left meanwhile is no longer named here: the hub's words say who.
    const who = this.state.members.find((m) => m.id === member)?.name;
    const failure = who ? `Could not share ${device.name} with ${who}.` : `Could not share ${device.name}.`;
    return this.busy(
      `share:${device.id}`,
      failure,
      async () => {
        const shared = await this.backend.share(device.id, member, hours);
        this.state.shareError = undefined;
        // Sharing again replaces the share with that member.
        const mine = sharesGiven(this.state.household?.grants ?? [], device.id, this.state.me?.member.id);
        const grants = (this.state.household?.grants ?? []).filter((g) => !(mine.includes(g) && g.grant.member === member));
        this.state.household = { grants: [...grants, shared] };
        const until = shared.grant.expires_at === null ? "until you stop sharing" : `until ${untilLabel(shared.grant.expires_at, this.state.now)}`;
        this.host.announce(`${shared.member_name} can see what ${device.name} sends, ${until}.`);
        void this.loadHousehold();
      },
      (error) => this.shareRefused(device.id, failure, error),
    );
  }

  unshare(device: Device, grant: GrantView): void {
    const failure = `Could not stop sharing ${device.name} with ${grant.member_name}.`;
    void this.busy(
      `share:${device.id}`,
      failure,
      async () => {
        await this.backend.unshare(device.id, grant.grant.member);
        this.state.shareError = undefined;
        const grants = this.state.household?.grants ?? [];
        this.state.household = { grants: grants.filter((g) => g.grant.id !== grant.grant.id) };
        this.host.announce(`${grant.member_name} no longer sees what ${device.name} sends.`);
        // The pressed button is gone: the person carries on from the form.
        this.host.afterRender(() => {
          const active = document.activeElement;
          if (active && active !== document.body && active.isConnected) return;
          this.host.root.querySelector<HTMLElement>("[data-testid=share-member]")?.focus();
        });
        void this.loadHousehold();
      },
      (error) => this.shareRefused(device.id, failure, error),
    );
  }

  /** The hub's refusal, said beside the share form (and focused, so it is read out). */
  private shareRefused(device: DeviceId, failure: string, error: ApiError): void {
    const said = error.message.trim();
    const sentence = said ? `${said.charAt(0).toUpperCase()}${said.slice(1)}${/[.!?]$/.test(said) ? "" : "."}` : "";
    this.state.shareError = { device, message: sentence ? `${failure} ${sentence}` : failure };
    this.host.afterRender(() => this.host.root.querySelector<HTMLElement>("[data-testid=share-error]")?.focus());
    // What is shared may have changed meanwhile (another browser): show what holds now.
    void this.loadHousehold();
  }

  // ---- activity ----

  setActivityFilters(f: Partial<ActivityFilters>): void {
    this.state.activityFilters = { ...this.state.activityFilters, ...f };
    void this.loadActivity();
  }

  olderActivity(): void {
    if (this.state.activity?.loading || this.state.activity?.nextBefore == null) return;
    void this.loadActivity(true);
  }

  // ---- passwords ----

  async setPassword(password: string, current: string | null): Promise<boolean> {
    if (this.state.password.busy) return false;
    this.state.password = { busy: true, done: false };
    this.host.update();
    try {
      await this.backend.setPassword(password, current);
      this.state.password = { busy: false, done: true };
      this.host.announce("Your password is set.");
      this.host.afterRender(() => this.host.root.querySelector<HTMLElement>("#password-done")?.focus());
      void this.loadWho();
      return true;
    } catch (e) {
      this.state.password = { busy: false, done: false, error: toApiError(e, "Your password could not be set.").message };
      this.host.afterRender(() => this.host.root.querySelector<HTMLElement>("[data-testid=password-error]")?.focus());
      return false;
    } finally {
      this.host.update();
    }
  }

  /** A password error found before asking the hub (too short, typed differently twice). */
  passwordProblem(error: string): void {
    this.state.password = { busy: false, done: false, error };
    this.host.afterRender(() => this.host.root.querySelector<HTMLElement>("[data-testid=password-error]")?.focus());
    this.host.update();
  }

  /** Runs a household change once at a time per `key`; a refusal is shown in the hub's words
   *  (a notice, or by `refused` beside the form). Resolves true once done. */
  private async busy(key: string, failure: string, action: () => Promise<void>, refused?: (error: ApiError) => void): Promise<boolean> {
    if (this.state.familyBusy.has(key)) return false;
    this.state.familyBusy.add(key);
    this.host.update();
    try {
      await action();
      return true;
    } catch (e) {
      if (refused) refused(toApiError(e, failure));
      else this.host.notify(e, failure);
      return false;
    } finally {
      this.state.familyBusy.delete(key);
      this.host.update();
    }
  }
}

/** `list` with `item` in it once, in its place if it is there (`key` names it): the household's
 *  event (`rights_changed`) may have read the list again, with the new item, before the answer
 *  that made it arrived. */
function withOne<T, K>(list: readonly T[], item: T, key: (x: T) => K): T[] {
  const id = key(item);
  return list.some((x) => key(x) === id) ? list.map((x) => (key(x) === id ? item : x)) : [...list, item];
}
