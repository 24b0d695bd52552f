//! The command surface, declared once. Each command names its HTTP method and path, its
//! arguments, its answer, **what it needs** (a right on a device or on the home, an owner, or
//! just a signed-in member) and the hub method that carries it out. From this one table:
//! - [`Hub::call`]: the only way in for the HTTP routes and the desktop window. It checks the
//!   need ([`Hub::check`]) before running anything, so no command can forget to;
//! - the HTTP router (`http::router` adds a route per entry);
//! - the desktop window's single `call` command (no list of commands to keep in step);
//! - `ui/src/generated/commands.ts`, the TypeScript client's table (a test writes it and CI
//!   fails when it differs).
//!
//! A few HTTP endpoints are not commands, because they are not JSON in and out (streamed
//! exports, the event stream, sign-in); [`SPECIAL_ROUTES`] lists them with what they check.

use super::audit::AuditPage;
use super::control::{ControlAction, ControlView};
use super::family::{GrantRequest, GrantView, Invitation, Me, MemberView, RoomView};
use super::network::{DomainRequest, HomeNetwork, InternetLevel, MudImported, NetworkView};
use super::readings::ReadingView;
use super::types::*;
use crate::family::{Caller, Need};
use crate::hub::Hub;
use hearth_core::family::Right;
use serde::Deserialize;
use ts_rs::TS;

/// One command as the transports see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub name: &'static str,
    /// `GET`, `POST`, `DELETE`.
    pub method: &'static str,
    /// Under `/api/v1`; `{field}` parts are arguments.
    pub path: &'static str,
    /// When set, the JSON body is this one argument whole; otherwise the body's fields are the
    /// arguments (with the path's and the query's).
    pub body: Option<&'static str>,
}

/// HTTP endpoints that are not commands, and what each checks before anything else.
pub const SPECIAL_ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/devices/{id}/export", "review on the device (streamed JSON)"),
    ("GET", "/devices/{id}/export.csv", "review on the device (streamed CSV)"),
    ("GET", "/events", "a signed-in member; each event is shown only if they may view its device"),
    ("DELETE", "/sessions/{id}", "the member's own session, or an owner (clears the cookie when it is the asking browser's)"),
    ("DELETE", "/sessions", "the member's own sessions"),
    ("POST", "/login-links", "the owner token (`hearth open`)"),
];

macro_rules! commands {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident : $method:ident $path:literal $(body $body:ident)?,
        { $($field:ident : $fty:ty),* $(,)? } -> $out:ty,
        needs $need:expr,
        runs $run:expr;
    )*) => {
        /// Each command's arguments, as JSON and TypeScript see them.
        #[allow(non_camel_case_types)]
        pub mod args {
            use super::*;
            $(
                #[derive(Debug, Deserialize, TS)]
                #[serde(deny_unknown_fields)]
                pub struct $name { $(pub $field: $fty),* }
            )*
        }

        pub const COMMANDS: &[Spec] = &[
            $( Spec { name: stringify!($name), method: stringify!($method), path: $path, body: commands!(@body $($body)?) }, )*
        ];

        impl Hub {
            /// Runs one command for `caller`: parses its arguments, checks what it needs, runs it.
            pub fn call(&self, caller: &Caller, name: &str, args: serde_json::Value) -> Result<serde_json::Value, ApiError> {
                // Every answer includes what devices did before the request (the recorder gathers).
                self.wait_recorded();
                match name {
                    $(
                        stringify!($name) => {
                            let a: args::$name = parse_args(name, args)?;
                            let need: fn(&args::$name) -> Need = $need;
                            self.check(caller, &need(&a), name)?;
                            let run: fn(&Hub, &Caller, args::$name) -> Result<$out, ApiError> = $run;
                            let out = run(self, caller, a)?;
                            serde_json::to_value(out).map_err(|e| ApiError::internal(format!("cannot encode the answer: {e}")))
                        }
                    )*
                    other => Err(ApiError::not_found(format!("no command `{}`", crate::api::limits::quoted(other)))),
                }
            }
        }

        /// `ui/src/generated/commands.ts`: each command's HTTP route, arguments and answer.
        pub fn typescript() -> String {
            let cfg = ts_rs::Config::from_env();
            let mut imports = std::collections::BTreeSet::new();
            let mut types = String::new();
            let mut routes = String::new();
            $(
                let own = ts_rs::Dependency::from_ty::<$out>(&cfg);
                for dep in <args::$name as TS>::dependencies(&cfg).into_iter().chain(<$out as TS>::dependencies(&cfg)).chain(own) {
                    imports.insert(dep.ts_name);
                }
                // `Vec<Status>`, `Option<IssuedCredential>`: the types inside.
                <$out as TS>::visit_generics(&mut Named(&cfg, &mut imports));
                types.push_str(&format!(
                    "  {}: {{ args: {}; result: {} }};\n",
                    stringify!($name),
                    <args::$name as TS>::inline(&cfg),
                    <$out as TS>::name(&cfg)
                ));
                let body = commands!(@body $($body)?).map_or("null".to_owned(), |b: &str| format!("\"{b}\""));
                routes.push_str(&format!(
                    "  {}: {{ method: \"{}\", path: \"{}\", body: {} }},\n",
                    stringify!($name),
                    stringify!($method),
                    $path,
                    body
                ));
            )*
            // Only the types the table names: the UI compiles with `noUnusedLocals`.
            let used = |t: &str| types.split(|c: char| !c.is_alphanumeric() && c != '_').any(|word| word == t);
            let imports: String =
                imports.iter().filter(|t| used(t)).map(|t| format!("import type {{ {t} }} from \"./{t}\";\n")).collect();
            format!(
                "// Written by crates/hearth/src/api/commands.rs (`cargo test`): do not edit.\n{imports}\nexport type Commands = {{\n{types}}};\n\nexport const ROUTES = {{\n{routes}}} as const;\n"
            )
        }
    };
    (@body) => { None };
    (@body $body:ident) => { Some(stringify!($body)) };
}

/// Collects the exported TypeScript types a type is built from (its generic parameters).
struct Named<'a>(&'a ts_rs::Config, &'a mut std::collections::BTreeSet<String>);

impl ts_rs::TypeVisitor for Named<'_> {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        if let Some(dep) = ts_rs::Dependency::from_ty::<T>(self.0) {
            self.1.insert(dep.ts_name);
        }
        T::visit_generics(self);
    }
}

fn parse_args<T: serde::de::DeserializeOwned>(name: &str, args: serde_json::Value) -> Result<T, ApiError> {
    let args = if args.is_null() { serde_json::Value::Object(serde_json::Map::new()) } else { args };
    serde_json::from_value(args).map_err(|e| {
        // serde quotes what it could not read: cut short, a huge value is not echoed back.
        let why = crate::api::limits::cut(&e.to_string(), crate::api::limits::BODY_ERROR_CHARS);
        ApiError::bad_request(format!("the request body or arguments are not what `{name}` takes: {why}"))
    })
}

fn on(right: Right, id: &str) -> Need {
    Need::Device(right, id.to_owned())
}

commands! {
    /// The hub's state; device counts are of the devices the member may see.
    status: GET "/status", {} -> Status,
        needs |_| Need::Member, runs |hub, caller, _| hub.status_for(caller);
    /// Who is asking, and what they may do on each device they see.
    me: GET "/me", {} -> Me,
        needs |_| Need::Member, runs |hub, caller, _| hub.me(caller);
    list_devices: GET "/devices", {} -> Vec<Device>,
        needs |_| Need::Member, runs |hub, caller, _| hub.list_devices(caller);
    device: GET "/devices/{id}", { id: String } -> DeviceDetail,
        needs |a| on(Right::View, &a.id), runs |hub, caller, a| hub.device_for(caller, &a.id);
    approve: POST "/devices/{id}/approve", { id: String } -> Device,
        needs |a| on(Right::Configure, &a.id), runs |hub, caller, a| hub.decide(&a.id, Verdict::Approve, caller);
    block: POST "/devices/{id}/block", { id: String } -> Device,
        needs |a| on(Right::Configure, &a.id), runs |hub, caller, a| hub.decide(&a.id, Verdict::Block, caller);
    /// Back in quarantine (new), as before an approval: the undo of "approve all".
    quarantine: POST "/devices/{id}/quarantine", { id: String } -> Device,
        needs |a| on(Right::Configure, &a.id), runs |hub, caller, a| hub.decide(&a.id, Verdict::Quarantine, caller);
    /// Another member's personal device is forgotten only by an owner (the member sees it).
    forget: DELETE "/devices/{id}", { id: String } -> (),
        needs |a| on(Right::Configure, &a.id), runs |hub, caller, a| hub.forget_for(caller, &a.id);
    /// Its name, as people in the home call it (discovery keeps it from then on).
    rename: POST "/devices/{id}/name", { id: String, name: String } -> Device,
        needs |a| on(Right::Configure, &a.id), runs |hub, caller, a| hub.rename(&a.id, &a.name, caller);
    add_device: POST "/devices", { name: String } -> AddedDevice,
        needs |_| Need::Home(Right::Configure), runs |hub, caller, a| hub.add_device(&a.name, caller);
    /// A device's MQTT credential and its manifest are what it may say and hear on the broker,
    /// which can reach every other device's topics: an owner's.
    credential: POST "/devices/{id}/credential", { id: String, action: CredentialAction } -> Option<IssuedCredential>,
        needs |_| Need::Owner, runs |hub, caller, a| hub.credential(&a.id, a.action, caller);
    /// Its credential, connections, manifest and the gate's recent decisions (which name the
    /// topics it sends on: what it sends, so `review`).
    broker_view: GET "/devices/{id}/broker", { id: String } -> BrokerView,
        needs |a| on(Right::Review, &a.id), runs |hub, _, a| hub.broker_view(&a.id);
    set_topic_rule: POST "/devices/{id}/topics" body request, { id: String, request: TopicRuleRequest } -> BrokerView,
        needs |_| Need::Owner, runs |hub, caller, a| hub.set_topic_rule(&a.id, &a.request, caller).map(|v| hub.broker_view_for(caller, v));
    /// Binding a client id, pinning an anonymous client, taking an entity and merging records
    /// reach a second device (whoever holds the id, the entity, the other record): an owner's.
    bind_client_id: POST "/devices/{id}/client-id", { id: String, client_id: Option<String> } -> BrokerView,
        needs |_| Need::Owner, runs |hub, caller, a| hub.bind_client_id(&a.id, a.client_id.as_deref(), caller).map(|v| hub.broker_view_for(caller, v));
    set_anonymous: POST "/devices/{id}/anonymous" body access, { id: String, access: Option<AnonymousAccess> } -> BrokerView,
        needs |_| Need::Owner, runs |hub, caller, a| hub.set_anonymous(&a.id, a.access, caller).map(|v| hub.broker_view_for(caller, v));
    give_entity: POST "/devices/{id}/entities" body claim, { id: String, claim: EntityClaim } -> BrokerView,
        needs |_| Need::Owner, runs |hub, caller, a| hub.give_entity(&a.id, &a.claim, caller).map(|v| hub.broker_view_for(caller, v));
    identity_review: GET "/identity", {} -> IdentityReview,
        needs |_| Need::Owner, runs |hub, _, _| hub.identity_review();
    answer_merge: POST "/devices/{id}/merge" body request, { id: String, request: MergeRequest } -> DeviceDetail,
        needs |_| Need::Owner, runs |hub, caller, a| hub.answer_merge(&a.id, &a.request, caller);
    /// Its internet level and destinations: whom it talks to is part of what it sends.
    network_view: GET "/devices/{id}/network", { id: String } -> NetworkView,
        needs |a| on(Right::Review, &a.id), runs |hub, _, a| hub.network_view(&a.id);
    set_internet_level: POST "/devices/{id}/network/level", { id: String, level: InternetLevel } -> NetworkView,
        needs |a| on(Right::Configure, &a.id), runs |hub, caller, a| hub.set_internet_level(&a.id, a.level, caller).map(|v| hub.network_view_for(caller, &a.id, v));
    set_domain: POST "/devices/{id}/network/destinations" body request, { id: String, request: DomainRequest } -> NetworkView,
        needs |a| on(Right::Configure, &a.id), runs |hub, caller, a| hub.set_domain(&a.id, &a.request, caller).map(|v| hub.network_view_for(caller, &a.id, v));
    allow_waiting: POST "/devices/{id}/network/allow-waiting", { id: String } -> NetworkView,
        needs |a| on(Right::Configure, &a.id), runs |hub, caller, a| hub.allow_waiting(&a.id, caller).map(|v| hub.network_view_for(caller, &a.id, v));
    /// Its rules as a MUD file: the names it may reach, learned from what it asked for.
    export_mud: GET "/devices/{id}/mud", { id: String } -> String,
        needs |a| on(Right::Review, &a.id), runs |hub, _, a| hub.export_mud(&a.id);
    import_mud: POST "/devices/{id}/mud", { id: String, file: String } -> MudImported,
        needs |a| on(Right::Configure, &a.id), runs |hub, caller, a| hub.import_mud(&a.id, &a.file, caller);
    home_network: GET "/network", {} -> HomeNetwork,
        needs |_| Need::Home(Right::Configure), runs |hub, caller, _| hub.home_network_for(caller);
    /// Every device's MACs and allowed names, for a gateway: an owner's.
    export_firewall: GET "/network/export", { format: String } -> String,
        needs |_| Need::Owner, runs |hub, _, a| hub.export_firewall(&a.format);
    review: GET "/devices/{id}/review", { id: String, since: Option<String> } -> DeviceReview,
        needs |a| on(Right::Review, &a.id),
        runs |hub, _, a| hub.review(&a.id, crate::api::parse_duration(a.since.as_deref().unwrap_or("7d"))?);
    /// The home at a glance: only the devices the member may review.
    home_review: GET "/review", { since: Option<String> } -> HomeReview,
        needs |_| Need::Member,
        runs |hub, caller, a| hub.home_review_for(caller, crate::api::parse_duration(a.since.as_deref().unwrap_or("7d"))?);
    privacy: GET "/devices/{id}/privacy", { id: String } -> PrivacySettings,
        needs |a| on(Right::Review, &a.id), runs |hub, _, a| hub.privacy(&a.id);
    set_retention: POST "/devices/{id}/privacy/retention" body request, { id: String, request: RetentionRequest } -> PrivacySettings,
        needs |a| on(Right::Configure, &a.id), runs |hub, caller, a| hub.set_retention(&a.id, &a.request, caller);
    set_redaction: POST "/devices/{id}/privacy/redactions" body request, { id: String, request: RedactionRequest } -> PrivacySettings,
        needs |a| on(Right::Configure, &a.id), runs |hub, caller, a| hub.set_redaction(&a.id, &a.request, caller);
    /// Its messages as CSV (the desktop window; browsers download the streamed `export.csv`).
    export_csv: GET "/devices/{id}/messages.csv", { id: String } -> String,
        needs |a| on(Right::Review, &a.id), runs |hub, _, a| hub.export_csv(&a.id);
    /// Everything it sent (the desktop window; browsers download the streamed export).
    export: GET "/devices/{id}/export.json", { id: String } -> DeviceExport,
        needs |a| on(Right::Review, &a.id), runs |hub, _, a| hub.export(&a.id);
    sessions: GET "/sessions", {} -> Vec<BrowserSession>,
        needs |_| Need::Member, runs |hub, caller, _| hub.browser_sessions(caller);
    members: GET "/members", {} -> Vec<MemberView>,
        needs |_| Need::Member, runs |hub, caller, _| hub.members(caller);
    add_member: POST "/members", { name: String, role: hearth_core::family::Role } -> MemberView,
        needs |_| Need::Owner, runs |hub, caller, a| hub.add_member(&a.name, a.role, caller);
    change_member: POST "/members/{member}", { member: String, name: Option<String>, role: Option<hearth_core::family::Role> } -> MemberView,
        needs |_| Need::Owner, runs |hub, caller, a| hub.change_member(&a.member, a.name.as_deref(), a.role, caller);
    remove_member: DELETE "/members/{member}", { member: String } -> (),
        needs |_| Need::Owner, runs |hub, caller, a| hub.remove_member(&a.member, caller);
    /// A one-use sign-in link for a member, good for `hours`.
    invite: POST "/members/{member}/invitations", { member: String, hours: u32 } -> Invitation,
        needs |_| Need::Owner, runs |hub, caller, a| hub.invite(&a.member, a.hours, caller);
    /// The member's own password (the current one too, once they have one).
    set_password: POST "/me/password", { current: Option<String>, password: String } -> (),
        needs |_| Need::Member, runs |hub, caller, a| hub.set_password(caller, a.current.as_deref(), &a.password);
    /// Clears a member's forgotten password; they sign in again with a new invitation. Recorded
    /// as concerning them, so they see it.
    reset_password: POST "/members/{member}/password-reset", { member: String } -> (),
        needs |_| Need::Owner, runs |hub, caller, a| hub.reset_password(&a.member, caller);
    /// Shares what the caller's own personal device sends with another member (review), until
    /// `hours` from now if given. Only the device's member can.
    share: POST "/devices/{id}/share", { id: String, member: String, hours: Option<u32> } -> GrantView,
        needs |_| Need::Member, runs |hub, caller, a| hub.share(&a.id, &a.member, a.hours, caller);
    /// Takes a share back (the device's member only).
    unshare: DELETE "/devices/{id}/share/{member}", { id: String, member: String } -> (),
        needs |_| Need::Member, runs |hub, caller, a| hub.unshare(&a.id, &a.member, caller);
    /// Rooms and which room a device is in are an owner's: grants are given on rooms, so moving a
    /// device or removing a room moves rights.
    rooms: GET "/rooms", {} -> Vec<RoomView>,
        needs |_| Need::Member, runs |hub, caller, _| hub.rooms(caller);
    add_room: POST "/rooms", { name: String } -> RoomView,
        needs |_| Need::Owner, runs |hub, caller, a| hub.add_room(&a.name, caller);
    rename_room: POST "/rooms/{room}", { room: String, name: String } -> RoomView,
        needs |_| Need::Owner, runs |hub, caller, a| hub.rename_room(&a.room, &a.name, caller);
    remove_room: DELETE "/rooms/{room}", { room: String } -> (),
        needs |_| Need::Owner, runs |hub, caller, a| hub.remove_room(&a.room, caller);
    set_room: POST "/devices/{id}/room", { id: String, room: Option<u32> } -> Device,
        needs |_| Need::Owner, runs |hub, caller, a| hub.set_room(&a.id, a.room.map(i64::from), caller);
    /// Whose personal device it is (a phone, a watch, a tracker), or the household's: an owner
    /// marks a household device as a member's; only that member gives it back (see `set_personal`).
    set_personal: POST "/devices/{id}/member", { id: String, member: Option<String> } -> Device,
        needs |_| Need::Member, runs |hub, caller, a| hub.set_personal(&a.id, a.member.as_deref(), caller);
    grants: GET "/grants", { member: Option<String> } -> Vec<GrantView>,
        needs |_| Need::Member, runs |hub, caller, a| hub.grants(caller, a.member.as_deref());
    add_grant: POST "/grants" body grant, { grant: GrantRequest } -> GrantView,
        needs |_| Need::Owner, runs |hub, caller, a| hub.add_grant(&a.grant, caller);
    remove_grant: DELETE "/grants/{grant}", { grant: String } -> (),
        needs |_| Need::Owner, runs |hub, caller, a| hub.remove_grant(&a.grant, caller);
    /// Who did what, newest first: everything for an owner; for others, what they did and what
    /// was done to their personal devices.
    audit: GET "/audit", { member: Option<String>, device: Option<String>, since: Option<String>, before: Option<String>, limit: Option<String> } -> AuditPage,
        needs |_| Need::Member, runs |hub, caller, a| hub.audit(caller, &a);
    /// What can be operated on the device, with the state it last reported.
    controls: GET "/devices/{id}/controls", { id: String } -> Vec<ControlView>,
        needs |a| on(Right::View, &a.id), runs |hub, caller, a| hub.controls(&a.id, caller);
    /// What it measures now (power, temperature...), as its own discovery describes it.
    readings: GET "/devices/{id}/readings", { id: String } -> Vec<ReadingView>,
        needs |a| on(Right::View, &a.id), runs |hub, caller, a| hub.readings(&a.id, caller);
    /// Operates one of its entities: the hub publishes the command as itself.
    control: POST "/devices/{id}/control", { id: String, entity: String, action: ControlAction, brightness: Option<u8>, confirm: Option<bool> } -> ControlView,
        needs |a| on(Right::Control, &a.id), runs |hub, caller, a| hub.control(&a.id, &a.entity, a.action, a.brightness, a.confirm.unwrap_or(false), caller);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TypeScript client's table matches the declaration (CI runs the tests, then checks
    /// that `ui/src/generated` has no change).
    #[test]
    fn export_typescript_commands() {
        // This crate's directory as cargo names it when it runs the test, not where the test was
        // compiled: a build cache shared between checkouts must not write into another one.
        let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from);
        let dir = crate_dir.join("../../ui/src/generated");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("commands.ts"), typescript()).unwrap();
    }

    #[test]
    fn every_command_has_a_unique_name_and_route() {
        let mut names = std::collections::HashSet::new();
        let mut routes = std::collections::HashSet::new();
        for spec in COMMANDS {
            assert!(names.insert(spec.name), "two commands are called {}", spec.name);
            assert!(routes.insert((spec.method, spec.path)), "two commands use {} {}", spec.method, spec.path);
            assert!(["GET", "POST", "DELETE"].contains(&spec.method), "{}: {}", spec.name, spec.method);
        }
        for (method, path, _) in SPECIAL_ROUTES {
            assert!(routes.insert((method, path)), "{method} {path} is both a command and a special route");
        }
    }
}
