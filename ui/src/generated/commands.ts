// Written by crates/hearth/src/api/commands.rs (`cargo test`): do not edit.
import type { AddedDevice } from "./AddedDevice";
import type { AnonymousAccess } from "./AnonymousAccess";
import type { AuditPage } from "./AuditPage";
import type { BrokerView } from "./BrokerView";
import type { BrowserSession } from "./BrowserSession";
import type { ControlAction } from "./ControlAction";
import type { ControlView } from "./ControlView";
import type { CredentialAction } from "./CredentialAction";
import type { Device } from "./Device";
import type { DeviceDetail } from "./DeviceDetail";
import type { DeviceExport } from "./DeviceExport";
import type { DeviceReview } from "./DeviceReview";
import type { DomainRequest } from "./DomainRequest";
import type { EntityClaim } from "./EntityClaim";
import type { GrantRequest } from "./GrantRequest";
import type { GrantView } from "./GrantView";
import type { HomeNetwork } from "./HomeNetwork";
import type { HomeReview } from "./HomeReview";
import type { IdentityReview } from "./IdentityReview";
import type { InternetLevel } from "./InternetLevel";
import type { Invitation } from "./Invitation";
import type { IssuedCredential } from "./IssuedCredential";
import type { Me } from "./Me";
import type { MemberView } from "./MemberView";
import type { MergeRequest } from "./MergeRequest";
import type { MudImported } from "./MudImported";
import type { NetworkView } from "./NetworkView";
import type { PrivacySettings } from "./PrivacySettings";
import type { ReadingView } from "./ReadingView";
import type { RedactionRequest } from "./RedactionRequest";
import type { RetentionRequest } from "./RetentionRequest";
import type { Role } from "./Role";
import type { RoomView } from "./RoomView";
import type { Status } from "./Status";
import type { TopicRuleRequest } from "./TopicRuleRequest";

export type Commands = {
  status: { args: Record<symbol, never>; result: Status };
  me: { args: Record<symbol, never>; result: Me };
  list_devices: { args: Record<symbol, never>; result: Array<Device> };
  device: { args: { id: string, }; result: DeviceDetail };
  approve: { args: { id: string, }; result: Device };
  block: { args: { id: string, }; result: Device };
  quarantine: { args: { id: string, }; result: Device };
  forget: { args: { id: string, }; result: null };
  rename: { args: { id: string, name: string, }; result: Device };
  add_device: { args: { name: string, }; result: AddedDevice };
  credential: { args: { id: string, action: CredentialAction, }; result: IssuedCredential | null };
  broker_view: { args: { id: string, }; result: BrokerView };
  set_topic_rule: { args: { id: string, request: TopicRuleRequest, }; result: BrokerView };
  bind_client_id: { args: { id: string, client_id: string | null, }; result: BrokerView };
  set_anonymous: { args: { id: string, access: AnonymousAccess | null, }; result: BrokerView };
  give_entity: { args: { id: string, claim: EntityClaim, }; result: BrokerView };
  identity_review: { args: Record<symbol, never>; result: IdentityReview };
  answer_merge: { args: { id: string, request: MergeRequest, }; result: DeviceDetail };
  network_view: { args: { id: string, }; result: NetworkView };
  set_internet_level: { args: { id: string, level: InternetLevel, }; result: NetworkView };
  set_domain: { args: { id: string, request: DomainRequest, }; result: NetworkView };
  allow_waiting: { args: { id: string, }; result: NetworkView };
  export_mud: { args: { id: string, }; result: string };
  import_mud: { args: { id: string, file: string, }; result: MudImported };
  home_network: { args: Record<symbol, never>; result: HomeNetwork };
  export_firewall: { args: { format: string, }; result: string };
  review: { args: { id: string, since: string | null, }; result: DeviceReview };
  home_review: { args: { since: string | null, }; result: HomeReview };
  privacy: { args: { id: string, }; result: PrivacySettings };
  set_retention: { args: { id: string, request: RetentionRequest, }; result: PrivacySettings };
  set_redaction: { args: { id: string, request: RedactionRequest, }; result: PrivacySettings };
  export_csv: { args: { id: string, }; result: string };
  export: { args: { id: string, }; result: DeviceExport };
  sessions: { args: Record<symbol, never>; result: Array<BrowserSession> };
  members: { args: Record<symbol, never>; result: Array<MemberView> };
  add_member: { args: { name: string, role: Role, }; result: MemberView };
  change_member: { args: { member: string, name: string | null, role: Role | null, }; result: MemberView };
  remove_member: { args: { member: string, }; result: null };
  invite: { args: { member: string, hours: number, }; result: Invitation };
  set_password: { args: { current: string | null, password: string, }; result: null };
  reset_password: { args: { member: string, }; result: null };
  share: { args: { id: string, member: string, hours: number | null, }; result: GrantView };
  unshare: { args: { id: string, member: string, }; result: null };
  rooms: { args: Record<symbol, never>; result: Array<RoomView> };
  add_room: { args: { name: string, }; result: RoomView };
  rename_room: { args: { room: string, name: string, }; result: RoomView };
  remove_room: { args: { room: string, }; result: null };
  set_room: { args: { id: string, room: number | null, }; result: Device };
  set_personal: { args: { id: string, member: string | null, }; result: Device };
  grants: { args: { member: string | null, }; result: Array<GrantView> };
  add_grant: { args: { grant: GrantRequest, }; result: GrantView };
  remove_grant: { args: { grant: string, }; result: null };
  audit: { args: { member: string | null, device: string | null, since: string | null, before: string | null, limit: string | null, }; result: AuditPage };
  controls: { args: { id: string, }; result: Array<ControlView> };
  readings: { args: { id: string, }; result: Array<ReadingView> };
  control: { args: { id: string, entity: string, action: ControlAction, brightness: number | null, confirm: boolean | null, }; result: ControlView };
};

export const ROUTES = {
  status: { method: "GET", path: "/status", body: null },
  me: { method: "GET", path: "/me", body: null },
  list_devices: { method: "GET", path: "/devices", body: null },
  device: { method: "GET", path: "/devices/{id}", body: null },
  approve: { method: "POST", path: "/devices/{id}/approve", body: null },
  block: { method: "POST", path: "/devices/{id}/block", body: null },
  quarantine: { method: "POST", path: "/devices/{id}/quarantine", body: null },
  forget: { method: "DELETE", path: "/devices/{id}", body: null },
  rename: { method: "POST", path: "/devices/{id}/name", body: null },
  add_device: { method: "POST", path: "/devices", body: null },
  credential: { method: "POST", path: "/devices/{id}/credential", body: null },
  broker_view: { method: "GET", path: "/devices/{id}/broker", body: null },
  set_topic_rule: { method: "POST", path: "/devices/{id}/topics", body: "request" },
  bind_client_id: { method: "POST", path: "/devices/{id}/client-id", body: null },
  set_anonymous: { method: "POST", path: "/devices/{id}/anonymous", body: "access" },
  give_entity: { method: "POST", path: "/devices/{id}/entities", body: "claim" },
  identity_review: { method: "GET", path: "/identity", body: null },
  answer_merge: { method: "POST", path: "/devices/{id}/merge", body: "request" },
  network_view: { method: "GET", path: "/devices/{id}/network", body: null },
  set_internet_level: { method: "POST", path: "/devices/{id}/network/level", body: null },
  set_domain: { method: "POST", path: "/devices/{id}/network/destinations", body: "request" },
  allow_waiting: { method: "POST", path: "/devices/{id}/network/allow-waiting", body: null },
  export_mud: { method: "GET", path: "/devices/{id}/mud", body: null },
  import_mud: { method: "POST", path: "/devices/{id}/mud", body: null },
  home_network: { method: "GET", path: "/network", body: null },
  export_firewall: { method: "GET", path: "/network/export", body: null },
  review: { method: "GET", path: "/devices/{id}/review", body: null },
  home_review: { method: "GET", path: "/review", body: null },
  privacy: { method: "GET", path: "/devices/{id}/privacy", body: null },
  set_retention: { method: "POST", path: "/devices/{id}/privacy/retention", body: "request" },
  set_redaction: { method: "POST", path: "/devices/{id}/privacy/redactions", body: "request" },
  export_csv: { method: "GET", path: "/devices/{id}/messages.csv", body: null },
  export: { method: "GET", path: "/devices/{id}/export.json", body: null },
  sessions: { method: "GET", path: "/sessions", body: null },
  members: { method: "GET", path: "/members", body: null },
  add_member: { method: "POST", path: "/members", body: null },
  change_member: { method: "POST", path: "/members/{member}", body: null },
  remove_member: { method: "DELETE", path: "/members/{member}", body: null },
  invite: { method: "POST", path: "/members/{member}/invitations", body: null },
  set_password: { method: "POST", path: "/me/password", body: null },
  reset_password: { method: "POST", path: "/members/{member}/password-reset", body: null },
  share: { method: "POST", path: "/devices/{id}/share", body: null },
  unshare: { method: "DELETE", path: "/devices/{id}/share/{member}", body: null },
  rooms: { method: "GET", path: "/rooms", body: null },
  add_room: { method: "POST", path: "/rooms", body: null },
  rename_room: { method: "POST", path: "/rooms/{room}", body: null },
  remove_room: { method: "DELETE", path: "/rooms/{room}", body: null },
  set_room: { method: "POST", path: "/devices/{id}/room", body: null },
  set_personal: { method: "POST", path: "/devices/{id}/member", body: null },
  grants: { method: "GET", path: "/grants", body: null },
  add_grant: { method: "POST", path: "/grants", body: "grant" },
  remove_grant: { method: "DELETE", path: "/grants/{grant}", body: null },
  audit: { method: "GET", path: "/audit", body: null },
  controls: { method: "GET", path: "/devices/{id}/controls", body: null },
  readings: { method: "GET", path: "/devices/{id}/readings", body: null },
  control: { method: "POST", path: "/devices/{id}/control", body: null },
} as const;
