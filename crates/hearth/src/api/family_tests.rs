//! The chokepoint, through `Hub::call` as the transports use it: what each member is shown and
//! refused, live revocation, the audit of refusals and of looks at another member's data.

use crate::api::types::{ErrorCode, Event};
use crate::family::Caller;
use crate::hub::Hub;
use serde_json::{Value, json};

fn owner() -> Caller {
    Caller::local_owner("cli")
}

fn kid(id: &str) -> Caller {
    Caller { member: id.to_owned(), origin: "web", from: Some([10, 0, 0, 9].into()), session: None }
}

fn call(hub: &Hub, caller: &Caller, name: &str, args: Value) -> Result<Value, ErrorCode> {
    hub.call(caller, name, args).map_err(|e| e.code)
}

/// A hub with two devices (one in the Kitchen) and a member of `role`; returns their ids.
fn home(role: &str) -> (Hub, tempfile::TempDir, String, String, String, i64) {
    let (hub, dir) = crate::testing::hub();
    let lamp = call(&hub, &owner(), "add_device", json!({"name": "Kitchen lamp"})).unwrap()["device"]["id"].as_str().unwrap().to_owned();
    let lock = call(&hub, &owner(), "add_device", json!({"name": "Front door"})).unwrap()["device"]["id"].as_str().unwrap().to_owned();
    let room = call(&hub, &owner(), "add_room", json!({"name": "Kitchen"})).unwrap()["id"].as_i64().unwrap();
    call(&hub, &owner(), "set_room", json!({"id": lamp, "room": room})).unwrap();
    let member = call(&hub, &owner(), "add_member", json!({"name": "Kim", "role": role})).unwrap()["id"].as_str().unwrap().to_owned();
    (hub, dir, lamp, lock, member, room)
}

/// The names of the devices `caller` is shown, sorted (devices first seen in the same
/// millisecond are listed in no fixed order).
fn listed(hub: &Hub, caller: &Caller) -> Vec<String> {
    let list = call(hub, caller, "list_devices", Value::Null).unwrap();
    let mut names: Vec<String> = list.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    names
}

fn grant(hub: &Hub, member: &str, right: &str, target: Value, extra: Value) -> i64 {
    let mut request = json!({"member": member, "right": right, "target": target, "effect": "allow", "schedule": null, "expires_at": null});
    request.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    call(hub, &owner(), "add_grant", json!({"grant": request})).unwrap()["grant"]["id"].as_i64().unwrap()
}

#[test]
fn a_child_sees_and_does_only_what_is_granted_and_a_revoke_holds_at_once() {
    let (hub, _dir, lamp, lock, kim, room) = home("child");
    let kim = kid(&kim);
    assert!(listed(&hub, &kim).is_empty(), "nothing granted: nothing listed");
    assert_eq!(call(&hub, &kim, "device", json!({"id": lamp})), Err(ErrorCode::Forbidden));
    assert_eq!(call(&hub, &kim, "review", json!({"id": lamp})), Err(ErrorCode::Forbidden));

    let mut events = hub.subscribe();
    let id = grant(&hub, &kim.member, "view", json!({"kind": "room", "id": room}), json!({}));
    assert!(matches!(events.try_recv(), Ok(Event::RightsChanged)), "open pages are told to reload");
    assert_eq!(listed(&hub, &kim), ["Kitchen lamp"]);
    assert_eq!(call(&hub, &kim, "device", json!({"id": lock})), Err(ErrorCode::Forbidden), "not in the Kitchen");
    assert_eq!(call(&hub, &kim, "approve", json!({"id": lamp})), Err(ErrorCode::Forbidden), "children never configure");
    let status = call(&hub, &kim, "status", Value::Null).unwrap();
    assert_eq!(status["devices"], 1, "the status counts what she may see");

    call(&hub, &owner(), "remove_grant", json!({"grant": id.to_string()})).unwrap();
    assert!(listed(&hub, &kim).is_empty(), "revoked: gone from the moment the call returned");

    let audit = call(&hub, &owner(), "audit", json!({"member": kim.member})).unwrap();
    let refused: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().filter(|e| e["refused"] == true).map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(refused, ["approve", "device", "review", "device"], "every refusal is on record, newest first");
    assert_eq!(audit["entries"][0]["address"], "10.0.0.9");
    assert!(audit["entries"][0]["words"].as_str().unwrap().starts_with("was refused: approve Kitchen lamp"), "{}", audit["entries"][0]);
}

#[test]
fn an_adult_uses_everything_but_changes_only_where_granted() {
    let (hub, _dir, lamp, _lock, sam, _room) = home("adult");
    let sam = kid(&sam);
    assert_eq!(listed(&hub, &sam), ["Front door", "Kitchen lamp"]);
    assert_eq!(call(&hub, &sam, "approve", json!({"id": lamp})), Err(ErrorCode::Forbidden));
    assert_eq!(call(&hub, &sam, "add_member", json!({"name": "Eve", "role": "owner"})), Err(ErrorCode::Forbidden), "owners manage people");
    grant(&hub, &sam.member, "configure", json!({"kind": "device", "id": lamp}), json!({}));
    assert!(call(&hub, &sam, "block", json!({"id": lamp})).is_ok());
    let history = call(&hub, &owner(), "device", json!({"id": lamp})).unwrap()["history"].clone();
    assert_eq!(history.as_array().unwrap().last().unwrap()["actor"], sam.member.as_str(), "the change names who made it");
}

#[test]
fn a_personal_device_is_reviewed_by_its_member_and_a_parents_look_is_shown_to_the_child() {
    let (hub, _dir, lamp, _lock, kim, _room) = home("child");
    let sam = call(&hub, &owner(), "add_member", json!({"name": "Sam", "role": "adult"})).unwrap()["id"].as_str().unwrap().to_owned();
    call(&hub, &owner(), "set_personal", json!({"id": lamp, "member": kim})).unwrap();
    grant(&hub, &sam, "review", json!({"kind": "home"}), json!({}));
    grant(&hub, &kim, "view", json!({"kind": "device", "id": lamp}), json!({}));
    assert!(call(&hub, &kid(&kim), "review", json!({"id": lamp})).is_ok(), "her own device");
    // Sam is an adult of the household, a parent: a child's device is open to him, and recorded.
    assert!(call(&hub, &kid(&sam), "review", json!({"id": lamp})).is_ok());
    let hers = call(&hub, &kid(&kim), "audit", Value::Null).unwrap();
    let look = hers["entries"].as_array().unwrap().iter().find(|e| e["action"] == "look:review").expect("the look is in her audit");
    assert_eq!((look["about_you"].clone(), look["member"].clone()), (json!(true), json!(sam)));

    // An adult's phone is nobody else's to read, not even the owner's; nor can the owner move it.
    assert_eq!(
        call(&hub, &owner(), "set_personal", json!({"id": lamp, "member": sam})),
        Err(ErrorCode::Forbidden),
        "Kim's until she gives it back"
    );
    call(&hub, &kid(&kim), "set_personal", json!({"id": lamp, "member": null})).unwrap();
    call(&hub, &owner(), "set_personal", json!({"id": lamp, "member": sam})).unwrap();
    assert_eq!(call(&hub, &owner(), "set_personal", json!({"id": lamp, "member": "owner"})), Err(ErrorCode::Forbidden));
    assert_eq!(call(&hub, &owner(), "review", json!({"id": lamp})), Err(ErrorCode::Forbidden));
    assert_eq!(call(&hub, &owner(), "export", json!({"id": lamp})), Err(ErrorCode::Forbidden));
    assert!(call(&hub, &owner(), "device", json!({"id": lamp})).is_ok(), "that it exists is no secret");
}

/// A personal device's readings say what its member does (a phone's charge, a lamp's power at
/// night): like its controls' states, another member sees them only if they may review it; she
/// and a parent do.
#[test]
fn a_personal_device_s_readings_are_for_its_member_and_who_may_review_it() {
    let (hub, _dir, lamp, _lock, kim, _room) = home("child");
    let _ = call(&hub, &owner(), "approve", json!({"id": lamp}));
    crate::testing::describe_and_send(
        &hub,
        &lamp,
        &[(
            "homeassistant/sensor/lamp/power/config",
            r#"{"name":"power","dev_cla":"power","unit_of_meas":"W","stat_t":"lamp/power","dev":{"ids":"l1","name":"lamp"}}"#,
        )],
        &[("lamp/power", "42")],
    );
    let sam = call(&hub, &owner(), "add_member", json!({"name": "Sam", "role": "adult"})).unwrap()["id"].as_str().unwrap().to_owned();
    let lee = call(&hub, &owner(), "add_member", json!({"name": "Lee", "role": "child"})).unwrap()["id"].as_str().unwrap().to_owned();
    for member in [&kim, &lee] {
        grant(&hub, member, "view", json!({"kind": "device", "id": lamp}), json!({}));
    }
    let values = |caller: &Caller| -> Vec<String> {
        let answer = call(&hub, caller, "readings", json!({"id": lamp})).unwrap();
        answer.as_array().unwrap().iter().map(|r| r["value"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(values(&kid(&lee)), ["42"], "nobody's own yet: whoever may view it sees it");
    call(&hub, &owner(), "set_personal", json!({"id": lamp, "member": kim})).unwrap();
    assert_eq!(values(&kid(&kim)), ["42"], "her own device");
    assert_eq!(values(&kid(&sam)), ["42"], "a parent may review a child's device");
    assert!(values(&kid(&lee)).is_empty(), "her brother may view the lamp, not what she does with it");

    // An adult's: not even the owner, who may view every device, is shown its readings.
    call(&hub, &kid(&kim), "set_personal", json!({"id": lamp, "member": null})).unwrap();
    call(&hub, &owner(), "set_personal", json!({"id": lamp, "member": sam})).unwrap();
    assert_eq!(values(&kid(&sam)), ["42"]);
    assert!(values(&owner()).is_empty());
}

#[test]
fn guests_rights_always_end_and_the_household_keeps_an_owner() {
    let (hub, _dir, lamp, _lock, gran, _room) = home("guest");
    let target = json!({"kind": "device", "id": lamp});
    let request = json!({"member": gran, "right": "view", "target": target, "effect": "allow", "schedule": null, "expires_at": null});
    assert_eq!(call(&hub, &owner(), "add_grant", json!({"grant": request})), Err(ErrorCode::BadRequest), "a guest's grant needs an end");
    grant(&hub, &gran, "view", target, json!({"expires_at": crate::api::now() + 60_000}));
    assert_eq!(listed(&hub, &kid(&gran)), ["Kitchen lamp"]);
    assert_eq!(call(&hub, &kid(&gran), "review", json!({"id": lamp})), Err(ErrorCode::Forbidden), "guests never review");

    assert_eq!(call(&hub, &owner(), "remove_member", json!({"member": "owner"})), Err(ErrorCode::BadRequest));
    assert_eq!(call(&hub, &owner(), "change_member", json!({"member": "owner", "role": "adult"})), Err(ErrorCode::BadRequest));
    call(&hub, &owner(), "remove_member", json!({"member": gran})).unwrap();
    assert_eq!(call(&hub, &kid(&gran), "list_devices", Value::Null), Err(ErrorCode::Unauthorized), "a removed member is nobody");
}

#[test]
fn unknown_commands_and_arguments_are_refused_with_words() {
    let (hub, _dir) = crate::testing::hub();
    let err = hub.call(&owner(), "drop_tables", Value::Null).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    let err = hub.call(&owner(), "device", json!({"id": "d-000000000001", "extra": 1})).unwrap_err();
    assert_eq!(err.code, ErrorCode::BadRequest);
    assert!(err.message.contains("unknown field"), "{}", err.message);
}

#[test]
fn commands_that_reach_a_second_device_are_the_owners() {
    let (hub, _dir, lamp, lock, sam, _room) = home("adult");
    grant(&hub, &sam, "configure", json!({"kind": "home"}), json!({}));
    let sam = kid(&sam);
    let merge = json!({"id": lamp, "request": {"other": lock, "answer": "merge"}});
    assert_eq!(call(&hub, &sam, "answer_merge", merge), Err(ErrorCode::Forbidden), "the other record is not his to join");
    assert_eq!(call(&hub, &sam, "bind_client_id", json!({"id": lamp, "client_id": "alarm"})), Err(ErrorCode::Forbidden));
    // A topic rule can reach every device's topics (`#`), a credential makes a client of it.
    let everything = json!({"id": lamp, "request": {"direction": "subscribe", "pattern": "#", "rule": "allow"}});
    assert_eq!(call(&hub, &sam, "set_topic_rule", everything), Err(ErrorCode::Forbidden));
    assert_eq!(call(&hub, &sam, "credential", json!({"id": lamp, "action": "rotate"})), Err(ErrorCode::Forbidden));
    assert_eq!(call(&hub, &sam, "export_firewall", json!({"format": "nft"})), Err(ErrorCode::Forbidden));
    assert!(call(&hub, &sam, "block", json!({"id": lamp})).is_ok(), "his grant still holds for the device itself");
}

#[test]
fn a_configure_answer_carries_what_a_device_sent_only_to_who_may_review_it() {
    let (hub, _dir, lamp, _lock, anna, _room) = home("adult");
    call(&hub, &owner(), "set_personal", json!({"id": lamp, "member": anna})).unwrap();
    let mut view = hub.broker_view(&lamp).unwrap();
    view.recent.push(crate::api::types::DecisionView {
        at: 1,
        client_id: "phone".into(),
        action: crate::api::types::Action::Publish,
        topic: "owntracks/anna/phone".into(),
        bytes: 10,
        qos: 0,
        decision: crate::api::types::Decision::Allow,
    });
    let shown = hub.broker_view_for(&owner(), view.clone());
    assert!(shown.recent.is_empty(), "the owner may change Anna's phone, not read what it sent");
    assert_eq!(hub.broker_view_for(&kid(&anna), view.clone()).recent.len(), view.recent.len(), "Anna reads her own");
}

#[test]
fn invitations_are_for_members_without_a_password_and_a_reset_is_shown_to_them() {
    let (hub, _dir, _lamp, _lock, kim, _room) = home("child");
    assert_eq!(call(&hub, &owner(), "invite", json!({"member": "owner", "hours": 1})), Err(ErrorCode::BadRequest));
    hub.set_password(&kid(&kim), None, "correct horse battery").unwrap();
    assert_eq!(call(&hub, &owner(), "invite", json!({"member": kim, "hours": 1})), Err(ErrorCode::BadRequest), "she signs in with it");
    let session = hub.sign_in(&kim, "Firefox", [10, 0, 0, 9].into(), "web").unwrap();
    call(&hub, &owner(), "reset_password", json!({"member": kim})).unwrap();
    assert!(hub.check_session(&session.token, None).is_none(), "a reset signs her out everywhere (a lost tablet)");
    assert!(call(&hub, &owner(), "invite", json!({"member": kim, "hours": 1})).is_ok());
    let hers = call(&hub, &kid(&kim), "audit", Value::Null).unwrap();
    let reset = hers["entries"].as_array().unwrap().iter().find(|e| e["action"] == "reset_password").expect("she sees the reset");
    assert_eq!(reset["member"], "owner");
}

#[test]
fn wrong_current_passwords_are_limited_like_sign_ins() {
    let (hub, _dir, _lamp, _lock, kim, _room) = home("adult");
    let kim = kid(&kim);
    hub.set_password(&kim, None, "correct horse battery").unwrap();
    let mut codes = Vec::new();
    for _ in 0..12 {
        codes.push(hub.set_password(&kim, Some("guess guess guess"), "another long password").unwrap_err().code);
    }
    assert_eq!(codes[0], ErrorCode::Forbidden);
    assert_eq!(*codes.last().unwrap(), ErrorCode::TooManyRequests, "{codes:?}");
}

#[test]
fn a_personal_device_is_shared_by_its_member_only() {
    let (hub, _dir, lamp, _lock, kim, _room) = home("adult");
    let sam = call(&hub, &owner(), "add_member", json!({"name": "Sam", "role": "adult"})).unwrap()["id"].as_str().unwrap().to_owned();
    call(&hub, &owner(), "set_personal", json!({"id": lamp, "member": kim})).unwrap();
    let request = json!({"member": sam, "right": "review", "target": {"kind": "device", "id": lamp}, "effect": "allow", "schedule": null, "expires_at": null});
    assert_eq!(call(&hub, &owner(), "add_grant", json!({"grant": request})), Err(ErrorCode::BadRequest), "not the owner's to share");
    assert_eq!(call(&hub, &kid(&sam), "share", json!({"id": lamp, "member": sam})), Err(ErrorCode::Forbidden));
    assert_eq!(call(&hub, &kid(&sam), "review", json!({"id": lamp})), Err(ErrorCode::Forbidden));
    call(&hub, &kid(&kim), "share", json!({"id": lamp, "member": sam, "hours": 1})).unwrap();
    call(&hub, &kid(&kim), "share", json!({"id": lamp, "member": sam, "hours": 2})).unwrap();
    assert!(call(&hub, &kid(&sam), "review", json!({"id": lamp})).is_ok(), "Kim shared it");
    let hers = call(&hub, &kid(&kim), "grants", Value::Null).unwrap();
    assert_eq!(hers.as_array().unwrap().len(), 1, "sharing again replaces the share, and she sees it: {hers}");
    call(&hub, &kid(&kim), "unshare", json!({"id": lamp, "member": sam})).unwrap();
    assert_eq!(call(&hub, &kid(&sam), "review", json!({"id": lamp})), Err(ErrorCode::Forbidden), "taken back");
    call(&hub, &kid(&kim), "share", json!({"id": lamp, "member": sam})).unwrap();
    call(&hub, &kid(&kim), "set_personal", json!({"id": lamp, "member": null})).unwrap();
    assert!(
        call(&hub, &owner(), "grants", json!({"member": sam})).unwrap().as_array().unwrap().is_empty(),
        "her shares went with her mark"
    );
}

#[test]
fn a_member_looping_on_a_refused_request_writes_one_row_a_minute() {
    let (hub, _dir, lamp, _lock, kim, _room) = home("child");
    for _ in 0..1000 {
        assert_eq!(call(&hub, &kid(&kim), "approve", json!({"id": lamp})), Err(ErrorCode::Forbidden));
    }
    let audit = call(&hub, &owner(), "audit", json!({"member": kim})).unwrap();
    assert_eq!(audit["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "approve").count(), 1);
    // Made-up device ids do not each buy a row: at most 30 a minute for one member.
    for n in 0..1000u64 {
        let made_up = hearth_core::device::DeviceId::from_random(n + 7);
        let _ = call(&hub, &kid(&kim), "review", json!({"id": made_up.as_str()}));
    }
    let audit = call(&hub, &owner(), "audit", json!({"member": kim, "limit": "500"})).unwrap();
    assert!(audit["entries"].as_array().unwrap().len() <= 31, "{}", audit["entries"].as_array().unwrap().len());
}

#[test]
fn rooms_move_rights_so_they_are_the_owners_and_a_members_privacy_choices_are_theirs() {
    let (hub, _dir, lamp, _lock, sam, room) = home("adult");
    grant(&hub, &sam, "configure", json!({"kind": "home"}), json!({}));
    let sam_caller = kid(&sam);
    assert_eq!(
        call(&hub, &sam_caller, "remove_room", json!({"room": room.to_string()})),
        Err(ErrorCode::Forbidden),
        "a deny on it would go too"
    );
    assert_eq!(call(&hub, &sam_caller, "set_room", json!({"id": lamp, "room": null})), Err(ErrorCode::Forbidden));
    let anna = call(&hub, &owner(), "add_member", json!({"name": "Anna", "role": "adult"})).unwrap()["id"].as_str().unwrap().to_owned();
    call(&hub, &owner(), "set_personal", json!({"id": lamp, "member": anna})).unwrap();
    let longer = json!({"id": lamp, "request": {"category": "location", "retention": {"keep": "days", "days": 30}}});
    assert_eq!(call(&hub, &sam_caller, "set_retention", longer.clone()), Err(ErrorCode::Forbidden), "Anna's phone keeps what Anna chose");
    assert!(call(&hub, &kid(&anna), "set_retention", longer).is_ok());
}

#[test]
fn a_parents_look_is_recorded_even_after_a_flood_of_refusals() {
    let (hub, _dir, lamp, _lock, kim, _room) = home("child");
    let sam = call(&hub, &owner(), "add_member", json!({"name": "Sam", "role": "adult"})).unwrap()["id"].as_str().unwrap().to_owned();
    call(&hub, &owner(), "set_personal", json!({"id": lamp, "member": kim})).unwrap();
    for n in 0..40u64 {
        let made_up = hearth_core::device::DeviceId::from_random(n + 99);
        let _ = call(&hub, &kid(&sam), "approve", json!({"id": made_up.as_str()}));
    }
    assert!(call(&hub, &kid(&sam), "review", json!({"id": lamp})).is_ok());
    let hers = call(&hub, &kid(&kim), "audit", Value::Null).unwrap();
    assert!(hers["entries"].as_array().unwrap().iter().any(|e| e["action"] == "look:review" && e["member"] == sam.as_str()), "{hers}");
}

/// Every household door a member or a script could flood stays bounded, with words saying so.
#[test]
fn oversized_and_endless_household_input_is_refused_with_its_bound() {
    let (hub, _dir, lamp, _lock, kim, _room) = home("child");
    let refused = |r: Result<Value, ApiError>| r.unwrap_err();
    use crate::api::types::ApiError;
    let long = "x".repeat(65);
    assert_eq!(refused(hub.call(&owner(), "add_member", json!({"name": long, "role": "adult"}))).code, ErrorCode::BadRequest);
    assert_eq!(refused(hub.call(&owner(), "add_room", json!({"name": "Hall\nway"}))).code, ErrorCode::BadRequest);
    // Rooms: 200 in all (one exists already).
    for n in 1..hearth_store::family::MAX_ROOMS {
        call(&hub, &owner(), "add_room", json!({"name": format!("Room {n}")})).unwrap();
    }
    let too_many = refused(hub.call(&owner(), "add_room", json!({"name": "One more"})));
    assert!(too_many.message.contains("200 rooms"), "{}", too_many.message);
    // Grants: 500 per member.
    for _ in 0..hearth_store::family::MAX_GRANTS_PER_MEMBER {
        grant(&hub, &kim, "view", json!({"kind": "device", "id": lamp}), json!({}));
    }
    let request =
        json!({"member": kim, "right": "view", "target": {"kind": "home"}, "effect": "allow", "schedule": null, "expires_at": null});
    let too_many = refused(hub.call(&owner(), "add_grant", json!({"grant": request})));
    assert!(too_many.message.contains("500 grants"), "{}", too_many.message);
    // A schedule of a thousand windows is refused before it is stored.
    let window = json!({"days": ["mon"], "from": 0, "to": 60});
    let request = json!({"member": kim, "right": "view", "target": {"kind": "home"}, "effect": "deny", "schedule": {"windows": vec![window; 1000]}, "expires_at": null});
    assert_eq!(refused(hub.call(&owner(), "add_grant", json!({"grant": request}))).code, ErrorCode::BadRequest);
    // An invitation for ten years is not an invitation.
    assert_eq!(refused(hub.call(&owner(), "invite", json!({"member": kim, "hours": 87_600}))).code, ErrorCode::BadRequest);
}

/// Pressing a switch in a loop: 30 commands a minute, then refused (no broker here, so each
/// allowed one fails to send; the limit comes first).
#[test]
fn operating_a_device_in_a_loop_is_limited() {
    use hearth_core::discovery::{Discovery, Entity, Source};
    let (hub, _dir, lamp, _lock, kim, _room) = home("adult");
    let id = hearth_core::device::DeviceId::parse(&lamp).unwrap();
    let switch = Entity {
        key: "homeassistant/switch/lamp/config".into(),
        described: None,
        component: "switch".into(),
        name: "Lamp".into(),
        unique_id: None,
        state_topic: Some("lamp/state".into()),
        command_topic: Some("lamp/set".into()),
        device_class: None,
        unit: None,
        value_template: None,
    };
    let discovery = Discovery {
        source: Some(Source::HomeAssistant),
        scope: switch.key.clone(),
        devices: vec![],
        entities: vec![switch.clone()],
        publishes: vec!["lamp/state".into()],
        commands: vec!["lamp/set".into()],
    };
    hub.store().file_discovery(&id, &discovery, crate::api::now()).unwrap();
    let press = json!({"id": lamp, "entity": switch.key, "action": "on"});
    let codes: Vec<ErrorCode> = (0..31).map(|_| call(&hub, &kid(&kim), "control", press.clone()).unwrap_err()).collect();
    assert!(codes[..30].iter().all(|c| *c == ErrorCode::Unavailable), "{codes:?}");
    assert_eq!(codes[30], ErrorCode::TooManyRequests);
}

#[test]
fn renaming_needs_configure_and_a_name_of_one_printable_line_within_the_bound() {
    let (hub, _dir, lamp, _lock, kim, room) = home("child");
    grant(&hub, &kim, "view", json!({"kind": "room", "id": room}), json!({}));
    let kim = kid(&kim);
    assert_eq!(call(&hub, &kim, "rename", json!({"id": lamp, "name": "Mine now"})), Err(ErrorCode::Forbidden), "seeing is not renaming");
    let long = "x".repeat(crate::api::limits::DEVICE_NAME_CHARS + 1);
    assert_eq!(call(&hub, &owner(), "rename", json!({"id": lamp, "name": long})), Err(ErrorCode::BadRequest));
    assert_eq!(call(&hub, &owner(), "rename", json!({"id": lamp, "name": "Lamp\u{1b}[2J"})), Err(ErrorCode::BadRequest));
    assert_eq!(call(&hub, &owner(), "rename", json!({"id": lamp, "name": "  "})), Err(ErrorCode::BadRequest));
    let renamed = call(&hub, &owner(), "rename", json!({"id": lamp, "name": "  Counter lamp "})).unwrap();
    assert_eq!(renamed["name"], "Counter lamp");
    assert_eq!(call(&hub, &owner(), "device", json!({"id": lamp})).unwrap()["device"]["name"], "Counter lamp");
}
