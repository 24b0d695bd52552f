//! Every type that crosses the API boundary (HTTP, WebSocket, Tauri IPC), in one place.
//! Each derives `TS`; `cargo test` regenerates `ui/src/generated/` and CI fails if the
//! checked-in files differ.

pub use crate::ca::CaReplacement;
pub use crate::secrets::SecretStorage;
pub use hearth_core::classify::{Category, ValueType};
pub use hearth_core::device::{Actor, DeviceId, DeviceState};
pub use hearth_core::discovery::{DescribedDevice, Entity, EntityClaim, Source};
pub use hearth_core::fingerprint::Kind;
pub use hearth_core::gate::{Action, ConnectCount, Decision, DropReason};
pub use hearth_core::inventory::{Announcement, Device, DeviceDetail, IdentityConflict, MergeProposal, Service, StateChange};
pub use hearth_core::manifest::{Direction, RuleStatus, TopicRule};
pub use hearth_core::privacy::{CategoryRetention, PrivacySettings, Retention};
pub use hearth_core::review::{
    Bucket, CategoryReview, Change, DeviceReview, ExportedMessage, FieldReview, HomeDevice, HomeReview, ReasonCount, TopicReview,
};
pub use hearth_core::sighting::TxtEntry;
pub use hearth_core::suggest::Suggestion;
pub use hearth_store::SessionId;

pub use super::network::{FirewallStatus, NetworkServices};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Machine-readable error kinds; `message` says what happened and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    TooManyRequests,
    Internal,
    Unavailable,
}

/// The one error shape of the API: `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message}")]
#[ts(export)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

impl From<hearth_store::StoreError> for ApiError {
    fn from(e: hearth_store::StoreError) -> Self {
        match e {
            hearth_store::StoreError::UnknownDevice(_) => Self::not_found(e.to_string()),
            hearth_store::StoreError::NoCredential(_)
            | hearth_store::StoreError::ClientIdTaken { .. }
            | hearth_store::StoreError::Invalid(_) => Self::bad_request(e.to_string()),
            hearth_store::StoreError::DiskFull(_) => Self::new(ErrorCode::Unavailable, e.to_string()),
            other => {
                tracing::error!("store: {other}");
                Self::internal(other.to_string())
            }
        }
    }
}

/// A person's verdict on a device (named apart from the gate's per-packet `Decision` of DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Verdict {
    Approve,
    Block,
    /// Back to new (quarantined): the undo of an approval made a moment ago.
    Quarantine,
}

impl Verdict {
    pub fn state(self) -> DeviceState {
        match self {
            Self::Approve => DeviceState::Approved,
            Self::Block => DeviceState::Blocked,
            Self::Quarantine => DeviceState::New,
        }
    }
}

/// What the live stream (WebSocket `/api/v1/events`, Tauri event `hearth://event`) carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum Event {
    /// A device was seen for the first time.
    DeviceSeen { device: Device },
    /// Something about a device changed (a service, an address, its state, back online).
    DeviceChanged { device: Device },
    /// A device stopped announcing itself: offline, not deleted.
    DeviceLost { device: Device },
    /// A device was forgotten, or merged into another record.
    DeviceRemoved { id: DeviceId, merged_into: Option<DeviceId> },
    /// A device's broker side changed: it connected or disconnected, its credential or its
    /// manifest changed, or the gate refused something new. Reload its broker view.
    BrokerChanged { id: DeviceId },
    /// A device sends something it did not before: a new field on a topic, or a new kind of
    /// data. `name` is the device's, for a notification.
    SendsSomethingNew { name: String, change: Change },
    /// An announcement says two records a person decided about are one device: a person merges
    /// them or keeps them apart (needs a decision: a banner, and an OS notification).
    IdentityQuestion { proposal: MergeProposal },
    /// A device asked for a name it never asked for before, after it was approved (a banner and
    /// an OS notification: a new destination is news, as a new kind of data is).
    DestinationNew { id: DeviceId, device_name: String, name: String },
    /// A device's destinations or network permissions changed: reload its Internet section.
    DestinationsChanged { id: DeviceId },
    /// The hub's status changed in a way a person should see at once (recording paused for a
    /// full disk, or resumed): reload it.
    StatusChanged,
    /// Members, rooms or rights changed: reload what this member may see (a revoked right
    /// empties their view at once).
    RightsChanged,
    /// The listener fell behind and missed events: reload the list.
    Resync,
}

/// Whether the recorder writes what devices send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RecordingStatus {
    /// Set while recording is paused because the data directory's disk is full (ms since the
    /// epoch): devices are still brokered, their messages not recorded.
    #[ts(type = "number | null")]
    pub paused_since: Option<i64>,
    /// Records not written for a full disk since start.
    #[ts(type = "number")]
    pub not_recorded: u64,
}

/// How the previous run of the hub on this data directory ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ShutdownStatus {
    /// False when it did not stop cleanly (killed, crashed, power lost).
    pub clean: bool,
    /// After an unclean end: what SQLite's check of the database said ("ok" or the problems).
    pub database_check: Option<String>,
    /// After a clean stop whose final save of the broker's sessions and retained messages failed
    /// (a full disk): what changed in them after the last save that worked was lost.
    #[serde(default)]
    pub mqtt_save_failed: bool,
}

/// A person's answer to "are these two records one device?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum MergeChoice {
    Merge,
    KeepApart,
}

/// `POST /devices/{id}/merge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MergeRequest {
    /// The other record's id.
    pub other: String,
    pub answer: MergeChoice,
}

/// What announcements could not decide about who is who.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct IdentityReview {
    /// Records an announcement linked, each holding a person's decisions: a person answers.
    pub proposals: Vec<MergeProposal>,
    /// Announcements that named two ids of one kind: not filed.
    pub ignored: Vec<IdentityConflict>,
}

/// The hub's state, for the status bar and `hearth status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Status {
    pub version: String,
    pub data_dir: String,
    pub secret_storage: SecretStorage,
    pub discovery: DiscoveryStatus,
    pub broker: BrokerStatus,
    /// Hearth's own CA, when TLS is in use (the web UI beyond loopback, MQTT over TLS).
    pub ca: Option<CaStatus>,
    pub devices: u32,
    pub devices_new: u32,
    pub devices_online: u32,
    pub recording: RecordingStatus,
    pub last_shutdown: ShutdownStatus,
    /// The DNS gate and the firewall.
    pub network: NetworkServices,
}

/// Hearth's certificate authority and the server certificate it issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CaStatus {
    /// `DATA_DIR/ca.pem`, to install on the household's phones, computers and devices.
    pub file: String,
    /// When the CA's certificate expires (milliseconds since the epoch).
    #[ts(type = "number")]
    pub expires_at: i64,
    /// When the server certificate clients see expires; a new one is issued when a third is left.
    #[ts(type = "number")]
    pub server_expires_at: i64,
    /// The server certificate was renewed while Hearth ran: the web UI uses the new one, but the
    /// MQTT broker presents the old one (expiring at `server_expires_at`) until Hearth restarts.
    pub mqtt_restart_needed: bool,
    /// Set when the CA was replaced at this start: whatever trusted the old one must be given
    /// the new `ca.pem`, or it refuses Hearth's TLS.
    pub replaced: Option<CaReplacement>,
}

/// The MQTT broker's state, with every loss counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BrokerStatus {
    pub enabled: bool,
    /// Where devices connect (`10.0.0.2:1883, 127.0.0.1:1883`).
    pub address: Option<String>,
    /// Where devices connect over TLS, if offered.
    pub tls_address: Option<String>,
    pub connections: u32,
    /// Messages accepted but not delivered since start: a subscriber's queue overflowed.
    #[ts(type = "number")]
    pub lost_messages: u64,
    /// Gate decisions that could not be recorded since start: the recorder fell behind.
    #[ts(type = "number")]
    pub unrecorded_decisions: u64,
    /// Published messages whose payload the ledger did not get (the recorder was behind): their
    /// metadata is recorded, their fields not learned.
    #[ts(type = "number")]
    pub payloads_dropped: u64,
    /// Published messages kept only as counts per topic (the recorder's queue was full).
    #[ts(type = "number")]
    pub aggregated_messages: u64,
    /// Retained messages held for the whole home, and those refused for a limit since start.
    pub retained: RetainedView,
    /// Refused connection attempts in the last 24 hours, and from how many addresses.
    #[ts(type = "number")]
    pub refused_connections: u64,
    #[ts(type = "number")]
    pub refused_addresses: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DiscoveryStatus {
    pub enabled: bool,
    /// Interfaces in use; empty means all.
    pub interfaces: Vec<String>,
    /// Service types browsed, including those the meta-query revealed.
    pub service_types: Vec<String>,
    /// Set when discovery could not start, with what to do.
    pub error: Option<String>,
    /// Announcements of new devices not filed since start because too many devices already
    /// wait for a decision.
    #[serde(default)]
    #[ts(type = "number")]
    pub new_devices_not_filed: u64,
}

/// Where a member is signed in: one browser session (never its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BrowserSession {
    /// Names the session to end it (`DELETE /api/v1/sessions/{id}`); gives no access.
    #[ts(type = "string")]
    pub id: SessionId,
    /// What the browser is, in plain words ("Firefox on Android").
    pub browser: String,
    /// Who signed in with it (an owner sees every member's sessions).
    pub member: String,
    /// What it said it is: its User-Agent, cut to 200 characters.
    pub user_agent: String,
    /// The address it was last used from.
    pub address: String,
    #[ts(type = "number")]
    pub signed_in_at: i64,
    /// Noted at most once a minute.
    #[ts(type = "number")]
    pub last_used: i64,
    #[ts(type = "number")]
    pub expires_at: i64,
    /// The browser asking: signing this one out signs the asker out.
    pub current: bool,
}

/// How many sessions `DELETE /api/v1/sessions` ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SessionsEnded {
    pub ended: u32,
}

/// A credential as issued: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct IssuedCredential {
    pub device_id: DeviceId,
    /// The MQTT username (the device id).
    pub username: String,
    /// The secret. Hearth keeps only its hash: copy it into the device now.
    pub password: String,
    /// Where devices connect (`host:port` as this hub sees it).
    pub broker: String,
}

/// A device added by hand, with its first credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AddedDevice {
    pub device: Device,
    pub credential: IssuedCredential,
}

/// What to do with a device's credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum CredentialAction {
    /// Issue a new secret (the first one, or replacing the old one, whose clients are disconnected).
    Rotate,
    /// Remove the credential and disconnect the device's clients.
    Revoke,
}

/// A person's rule for a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum RuleChoice {
    Allow,
    Deny,
}

/// Binds a credential to one client id, or unbinds it with `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ClientIdBinding {
    pub client_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TopicRuleRequest {
    pub direction: Direction,
    pub pattern: String,
    pub rule: RuleChoice,
}

/// A credential as shown after it was issued: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CredentialView {
    pub username: String,
    /// The only client id these credentials may use, when bound.
    pub client_id: Option<String>,
    #[ts(type = "number")]
    pub issued_at: i64,
}

/// One live MQTT connection of a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SessionView {
    pub client_id: String,
    /// `address:port` the client connects from.
    pub remote: Option<String>,
    /// "3.1", "3.1.1" or "5".
    pub protocol: String,
    #[ts(type = "number")]
    pub connected_at: i64,
}

/// One manifest rule with what the gate saw of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RuleView {
    pub direction: Direction,
    pub pattern: String,
    pub status: RuleStatus,
    #[ts(type = "number")]
    pub since: i64,
    /// Refused attempts seen (for learned rules).
    #[ts(type = "number")]
    pub tries: u64,
    #[ts(type = "number | null")]
    pub last_try: Option<i64>,
    /// For a learned rule: another device whose rules this topic touches, so that a person is
    /// warned before allowing it in one click ("tele/frontdoor/LWT is Front door's topic").
    pub concerns: Option<Concern>,
}

/// Another device a topic belongs to or leads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Concern {
    pub device_id: DeviceId,
    pub name: String,
    /// True: the topic is that device's own (allowing it would let this device speak for it or
    /// listen to its commands). False: that device is on the other end (it subscribes to what
    /// this would publish, or publishes what this would receive).
    pub owned: bool,
}

/// One recorded decision of the gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DecisionView {
    #[ts(type = "number")]
    pub at: i64,
    pub client_id: String,
    pub action: Action,
    pub topic: String,
    #[ts(type = "number")]
    pub bytes: u64,
    pub qos: u8,
    pub decision: Decision,
}

/// A device's broker side, for its page and `hearth device topics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BrokerView {
    pub device_id: DeviceId,
    pub credential: Option<CredentialView>,
    pub sessions: Vec<SessionView>,
    pub rules: Vec<RuleView>,
    /// The newest first.
    pub recent: Vec<DecisionView>,
    /// Where devices connect, as this hub sees it.
    pub broker: String,
    /// Where devices connect over TLS, if offered.
    pub broker_tls: Option<String>,
    /// Hearth's CA certificate (PEM) to install on devices that use TLS.
    pub ca_pem: Option<String>,
    /// Set when the device may connect without a credential.
    pub anonymous: Option<AnonymousAccess>,
    /// A firmware recognised from the topics it tried, with the rules it needs.
    pub suggestions: Vec<Suggestion>,
    /// What its discovery messages describe (Home Assistant, Tasmota, Zigbee2MQTT).
    pub described: Vec<DescribedView>,
    /// Its connection attempts, counted per source address and outcome, most recent first.
    pub connections: Vec<ConnectCount>,
    /// Client ids it uses (bound, pinned, or refused as taken) whose session another client
    /// holds: who is in its way.
    pub client_id_holders: Vec<ClientIdHolder>,
    /// What it holds in retained messages.
    pub retained: RetainedView,
    /// What the broker keeps for it while it is away (or slow), and what it dropped.
    pub waiting: WaitingView,
    /// Entities its discovery messages describe that another device described first: a person
    /// may give one to it.
    pub contested: Vec<ContestView>,
}

/// A discovery message refused because another device describes the same entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ContestView {
    /// The refused message's discovery topic.
    pub topic: String,
    pub claim: EntityClaim,
    pub holder_id: DeviceId,
    pub holder_name: String,
}

/// A client id and who holds its session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ClientIdHolder {
    pub client_id: String,
    /// The device holding it; absent when Hearth knows no device for that session any more.
    pub device_id: Option<DeviceId>,
    pub name: Option<String>,
    /// Connected now; else an offline session kept for its return.
    pub connected: bool,
}

/// Retained messages of one publisher (or of the whole home).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RetainedView {
    #[ts(type = "number")]
    pub messages: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    /// Delivered but not kept: the publisher's (or the home's) limit was reached.
    #[ts(type = "number")]
    pub refused: u64,
}

/// Messages the broker keeps for a device's clients while they are away (their persistent
/// sessions) or slow, and those dropped because a queue was full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WaitingView {
    /// Persistent sessions kept while their client is away.
    #[ts(type = "number")]
    pub offline_sessions: u64,
    #[ts(type = "number")]
    pub messages: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    /// Dropped since Hearth started: a queue was full.
    #[ts(type = "number")]
    pub dropped: u64,
    /// The limits of each session's queue.
    #[ts(type = "number")]
    pub max_messages: u64,
    #[ts(type = "number")]
    pub max_bytes: u64,
}

/// A device one of its discovery messages describes (a child behind a bridge, or itself as its
/// firmware names it), with its entities. `device` is absent for entities whose message named
/// no device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DescribedView {
    pub source: Source,
    pub device: Option<DescribedDevice>,
    pub entities: Vec<Entity>,
}

/// A device let in without a credential: only with this client id, and from this address if set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AnonymousAccess {
    pub client_id: String,
    pub address: Option<String>,
}

/// A change to a device's retention for one category; `retention` absent: back to the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RetentionRequest {
    pub category: Category,
    pub retention: Option<Retention>,
}

/// A field to remove from a device's messages (or, with `redact` false, to keep again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RedactionRequest {
    /// A JSON path, as the review shows it (`Wifi.SSId`).
    pub path: String,
    pub redact: bool,
}

/// Everything Hearth holds about one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DeviceExport {
    #[ts(type = "number")]
    pub exported_at: i64,
    pub device: DeviceDetail,
    pub broker: BrokerView,
    pub privacy: PrivacySettings,
    /// Everything on file, from its first message.
    pub review: DeviceReview,
    pub samples: Vec<ExportedSample>,
    pub messages: Vec<ExportedMessage>,
}

/// A payload sample: as text when it is UTF-8, else as hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ExportedSample {
    #[ts(type = "number")]
    pub at: i64,
    pub topic: String,
    pub text: Option<String>,
    pub hex: Option<String>,
}
