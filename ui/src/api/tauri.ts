// The desktop transport: Tauri IPC into the hub embedded in the app. The only module that
// imports `@tauri-apps/api`; `backend.ts` loads it only inside the desktop window.

import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
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
import type { EntityClaim } from "../generated/EntityClaim";
import type { IdentityReview } from "../generated/IdentityReview";
import type { MergeRequest } from "../generated/MergeRequest";
import type { DomainRequest } from "../generated/DomainRequest";
import type { HomeNetwork } from "../generated/HomeNetwork";
import type { InternetLevel } from "../generated/InternetLevel";
import type { NetworkView } from "../generated/NetworkView";
import type { Backend, FirewallFormat } from "./backend";
import { toApiError } from "./errors";

/** Commands return `Result<T, ApiError>`; an `Err` arrives as the rejected `{code, message}`. */
async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toApiError(e, `The desktop app could not run "${command}".`);
  }
}

export function tauriBackend(): Backend {
  return {
    // The window is the owner over IPC, with no session to list or end (see `Backend.signIns`).
    signIns: undefined,
    status: () => call<Status>("status"),
    devices: () => call<Device[]>("list_devices"),
    device: (id: DeviceId) => call<DeviceDetail>("device", { id }),
    decide: (id: DeviceId, decision: Verdict) => call<Device>("decide", { id, decision }),
    forget: (id: DeviceId) => call<void>("forget", { id }),
    addDevice: (name: string) => call<AddedDevice>("add_device", { name }),
    brokerView: (id: DeviceId) => call<BrokerView>("broker_view", { id }),
    credential: (id: DeviceId, action: CredentialAction) => call<IssuedCredential | null>("credential", { id, action }),
    setTopicRule: (id: DeviceId, request: TopicRuleRequest) => call<BrokerView>("set_topic_rule", { id, request }),
    bindClientId: (id: DeviceId, clientId: string | null) => call<BrokerView>("bind_client_id", { id, clientId }),
    setAnonymous: (id: DeviceId, access: AnonymousAccess | null) => call<BrokerView>("set_anonymous", { id, access }),
    giveEntity: (id: DeviceId, claim: EntityClaim) => call<BrokerView>("give_entity", { id, claim }),
    identityReview: () => call<IdentityReview>("identity_review"),
    answerMerge: (id: DeviceId, request: MergeRequest) => call<DeviceDetail>("answer_merge", { id, request }),
    review: (id: DeviceId, since: string) => call<DeviceReview>("review", { id, since }),
    homeReview: (since: string) => call<HomeReview>("home_review", { since }),
    privacy: (id: DeviceId) => call<PrivacySettings>("privacy", { id }),
    setRetention: (id: DeviceId, request: RetentionRequest) => call<PrivacySettings>("set_retention", { id, request }),
    setRedaction: (id: DeviceId, request: RedactionRequest) => call<PrivacySettings>("set_redaction", { id, request }),
    exportDevice: (id: DeviceId) => call<DeviceExport>("export_device", { id }),
    exportCsv: (id: DeviceId) => call<string>("export_csv", { id }),
    // Not yet declared in src-tauri (commands.rs, build.rs, capabilities): until they are, the
    // desktop window shows the hub's "could not run" error in these sections.
    network: (id: DeviceId) => call<NetworkView>("network_view", { id }),
    setInternetLevel: (id: DeviceId, level: InternetLevel) => call<NetworkView>("set_internet_level", { id, level }),
    setDomain: (id: DeviceId, request: DomainRequest) => call<NetworkView>("set_domain", { id, request }),
    allowWaiting: (id: DeviceId) => call<NetworkView>("allow_waiting", { id }),
    homeNetwork: () => call<HomeNetwork>("home_network"),
    exportFirewall: (format: FirewallFormat) => call<string>("export_firewall", { format }),
    onEvent(cb: (e: Event) => void): () => void {
      let stopped = false;
      const unlisten = listen<Event>("hearth://event", (e) => cb(e.payload)).then((un) => {
        if (stopped) {
          un();
        } else {
          // Events emitted before the listener was attached are lost: reload once.
          cb({ type: "resync" });
        }
        return un;
      });
      return () => {
        stopped = true;
        void unlisten.then((un) => un());
      };
    },
    onConnection(cb: (connected: boolean) => void): () => void {
      // The hub lives in the same process: the stream cannot drop.
      cb(true);
      return () => {};
    },
  };
}
