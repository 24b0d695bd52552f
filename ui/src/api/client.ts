// The typed client, written once over a transport's one `call(name, args)`: the same code runs
// in the desktop window (Tauri IPC) and in a browser (HTTP). A command's name and arguments are
// the hub's own (`generated/commands.ts`), so a renamed command or argument fails the type check
// here, not at run time in one of two transports.

import type { DeviceId } from "../generated/DeviceId";
import type { Backend, Transport } from "./backend";

export function backendOver(t: Transport): Backend {
  const call = t.call.bind(t);
  const id = (device: DeviceId) => ({ id: device });
  const done = (): void => undefined;
  return {
    signIns: t.signIns,
    exportCsv: t.exportCsv,
    me: () => call("me", {}),
    status: () => call("status", {}),
    devices: () => call("list_devices", {}),
    device: (device) => call("device", id(device)),
    decide: (device, decision) => call(decision === "approve" ? "approve" : decision === "block" ? "block" : "quarantine", id(device)),
    forget: (device) => call("forget", id(device)).then(done),
    addDevice: (name) => call("add_device", { name }),
    rename: (device, name) => call("rename", { id: device, name }),
    brokerView: (device) => call("broker_view", id(device)),
    credential: (device, action) => call("credential", { id: device, action }),
    setTopicRule: (device, request) => call("set_topic_rule", { id: device, request }),
    bindClientId: (device, clientId) => call("bind_client_id", { id: device, client_id: clientId }),
    setAnonymous: (device, access) => call("set_anonymous", { id: device, access }),
    giveEntity: (device, claim) => call("give_entity", { id: device, claim }),
    identityReview: () => call("identity_review", {}),
    answerMerge: (device, request) => call("answer_merge", { id: device, request }),
    review: (device, since) => call("review", { id: device, since }),
    homeReview: (since) => call("home_review", { since }),
    privacy: (device) => call("privacy", id(device)),
    setRetention: (device, request) => call("set_retention", { id: device, request }),
    setRedaction: (device, request) => call("set_redaction", { id: device, request }),
    exportDevice: (device) => call("export", id(device)),
    network: (device) => call("network_view", id(device)),
    setInternetLevel: (device, level) => call("set_internet_level", { id: device, level }),
    setDomain: (device, request) => call("set_domain", { id: device, request }),
    allowWaiting: (device) => call("allow_waiting", id(device)),
    homeNetwork: () => call("home_network", {}),
    exportFirewall: (format) => call("export_firewall", { format }),
    members: () => call("members", {}),
    addMember: (name, role) => call("add_member", { name, role }),
    changeMember: (member, change) => call("change_member", { member, name: change.name ?? null, role: change.role ?? null }),
    removeMember: (member) => call("remove_member", { member }).then(done),
    invite: (member, hours) => call("invite", { member, hours }),
    resetPassword: (member) => call("reset_password", { member }).then(done),
    setPassword: (password, current) => call("set_password", { password, current }).then(done),
    rooms: () => call("rooms", {}),
    addRoom: (name) => call("add_room", { name }),
    // Path arguments are text on the hub's side (`/rooms/{room}`), whatever they name.
    renameRoom: (room, name) => call("rename_room", { room: String(room), name }),
    removeRoom: (room) => call("remove_room", { room: String(room) }).then(done),
    setRoom: (device, room) => call("set_room", { id: device, room }),
    setPersonal: (device, member) => call("set_personal", { id: device, member }),
    share: (device, member, hours) => call("share", { id: device, member, hours }),
    unshare: (device, member) => call("unshare", { id: device, member }).then(done),
    grants: (member) => call("grants", { member: member ?? null }),
    addGrant: (grant) => call("add_grant", { grant }),
    removeGrant: (grant) => call("remove_grant", { grant: String(grant) }).then(done),
    audit: (q) =>
      call("audit", {
        member: q.member ?? null,
        device: q.device ?? null,
        since: q.since ?? null,
        before: q.before === undefined ? null : String(q.before),
        limit: null,
      }),
    controls: (device) => call("controls", id(device)),
    readings: (device) => call("readings", id(device)),
    control: (device, entity, action, confirm) => call("control", { id: device, entity, action, brightness: null, confirm }),
    onEvent: (cb) => t.onEvent(cb),
    onConnection: (cb) => t.onConnection(cb),
  };
}
