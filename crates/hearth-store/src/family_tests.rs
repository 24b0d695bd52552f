use super::*;
use hearth_core::family::{Weekday, Window};

const ORIGIN: &str = "cli";

fn home_with_device() -> (Store, DeviceId) {
    let mut store = Store::open_in_memory().unwrap();
    let id = DeviceId::parse("d-0000000000a1").unwrap();
    store.add_device(&id, "Kitchen lamp", &Actor::owner(), ORIGIN, 1_000).unwrap();
    (store, id)
}

fn grant(member: &str, right: Right, target: Target) -> Grant {
    Grant {
        id: 0,
        member: member.into(),
        right,
        target,
        effect: Effect::Allow,
        schedule: None,
        expires_at: None,
        granted_by: String::new(),
    }
}

#[test]
fn a_new_home_has_its_founding_owner() {
    let store = Store::open_in_memory().unwrap();
    let members = store.members().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!((members[0].id.as_str(), members[0].role), (FOUNDING_OWNER, Role::Owner));
    assert!(!members[0].has_password);
}

#[test]
fn names_are_unique_among_current_members_whatever_their_case() {
    let (mut store, _) = home_with_device();
    store.add_member("m-1", "Sam", Role::Adult, &Actor::owner(), ORIGIN, 2).unwrap();
    let again = store.add_member("m-2", "sam", Role::Child, &Actor::owner(), ORIGIN, 3).unwrap_err();
    assert!(again.to_string().contains("already a member called sam"), "{again}");
    store.remove_member("m-1", &Actor::owner(), ORIGIN, 4).unwrap();
    // Once Sam has left, the name is free again; the old row stays for the audit.
    store.add_member("m-2", "sam", Role::Child, &Actor::owner(), ORIGIN, 5).unwrap();
    assert_eq!(store.member("m-1").unwrap().unwrap().removed_at, Some(4));
    assert_eq!(store.member_named("SAM").unwrap().unwrap().id, "m-2");
}

#[test]
fn the_founding_owner_and_the_last_owner_stay_owners() {
    let (mut store, _) = home_with_device();
    let err = store.set_role(FOUNDING_OWNER, Role::Adult, &Actor::owner(), ORIGIN, 2).unwrap_err();
    assert!(err.to_string().contains("cannot be demoted"), "{err}");
    assert!(store.remove_member(FOUNDING_OWNER, &Actor::owner(), ORIGIN, 2).is_err());
    store.add_member("m-1", "Alex", Role::Owner, &Actor::owner(), ORIGIN, 3).unwrap();
    // Another owner exists, so Alex may be demoted; the founding owner stays.
    store.set_role("m-1", Role::Adult, &Actor::owner(), ORIGIN, 4).unwrap();
    assert_eq!(store.member("m-1").unwrap().unwrap().role, Role::Adult);
}

#[test]
fn removing_a_member_ends_their_sessions_and_takes_their_rights() {
    let (mut store, device) = home_with_device();
    store.add_member("m-1", "Kim", Role::Child, &Actor::owner(), ORIGIN, 2).unwrap();
    store.add_grant(&grant("m-1", Right::Control, Target::Device(device.clone())), &Actor::owner(), ORIGIN, 3).unwrap();
    store.set_device_member(&device, Some("m-1"), &Actor::owner(), ORIGIN, 3).unwrap();
    store.set_password_hash("m-1", "$argon2id$v=19$m=19456,t=2,p=1$x$y", &Actor::owner(), ORIGIN, 3).unwrap();
    let session = crate::StoredSession {
        id: crate::SessionId::from_random(7),
        member: "m-1".into(),
        token_hash: "sha256:aa".into(),
        created_at: 3,
        last_used: 3,
        expires_at: 10_000,
        user_agent: "Firefox".into(),
        address: "10.0.0.9".into(),
    };
    store.start_session(&session, 100, ORIGIN, 3).unwrap();
    let ended = store.remove_member("m-1", &Actor::owner(), ORIGIN, 5).unwrap();
    assert_eq!(ended, [session.id]);
    let family = store.family().unwrap();
    assert!(family.grants.is_empty());
    assert_eq!(family.device_members, [(device.clone(), "m-1".to_owned())], "her phone's data stays hers after she left");
    assert_eq!(store.password_hash("m-1").unwrap(), None);
    assert!(
        store.add_grant(&grant("m-1", Right::View, Target::Home), &Actor::owner(), ORIGIN, 6).is_err(),
        "a removed member gets nothing"
    );
}

#[test]
fn an_invitation_works_once_and_not_after_it_expires() {
    let (mut store, _) = home_with_device();
    store.add_member("m-1", "Gran", Role::Guest, &Actor::owner(), ORIGIN, 2).unwrap();
    store.add_invitation("sha256:one", "m-1", 100, &Actor::owner(), ORIGIN, 10).unwrap();
    store.add_invitation("sha256:late", "m-1", 100, &Actor::owner(), ORIGIN, 10).unwrap();
    assert_eq!(store.redeem_invitation("sha256:one", 50).unwrap().as_deref(), Some("m-1"));
    assert_eq!(store.redeem_invitation("sha256:one", 50).unwrap(), None, "used");
    assert_eq!(store.redeem_invitation("sha256:late", 100).unwrap(), None, "expired at its expiry");
    assert_eq!(store.redeem_invitation("sha256:unknown", 50).unwrap(), None);
    // A link made before she chose a password is no way in afterwards.
    store.add_invitation("sha256:spare", "m-1", 1_000, &Actor::owner(), ORIGIN, 10).unwrap();
    store.set_password_hash("m-1", "$argon2id$v=19$m=19456,t=2,p=1$x$y", &Actor::owner(), ORIGIN, 11).unwrap();
    assert_eq!(store.redeem_invitation("sha256:spare", 50).unwrap(), None);
    store.clear_password("m-1", &Actor::owner(), ORIGIN, 12).unwrap();
    for n in 0..MAX_INVITATIONS_PER_MEMBER + 3 {
        store.add_invitation(&format!("sha256:{n}"), "m-1", 1_000, &Actor::owner(), ORIGIN, 20 + n).unwrap();
    }
    let open: i64 = store.conn.query_row("SELECT count(*) FROM invitations", [], |r| r.get(0)).unwrap();
    assert_eq!(open, MAX_INVITATIONS_PER_MEMBER, "the oldest invitations make way");
    assert_eq!(store.redeem_invitation("sha256:0", 50).unwrap(), None, "the oldest went");
}

#[test]
fn grants_round_trip_with_schedule_and_expiry_and_go_with_their_room_or_device() {
    let (mut store, device) = home_with_device();
    store.add_member("m-1", "Kim", Role::Child, &Actor::owner(), ORIGIN, 2).unwrap();
    let room = store.add_room("Kitchen", &Actor::owner(), ORIGIN, 2).unwrap();
    assert!(store.add_room("kitchen", &Actor::owner(), ORIGIN, 2).is_err(), "room names are unique");
    store.set_device_room(&device, Some(room.id), &Actor::owner(), ORIGIN, 3).unwrap();
    let schedule = Schedule { windows: vec![Window { days: vec![Weekday::Sat, Weekday::Sun], from: 8 * 60, to: 20 * 60 }] };
    let on_room = store
        .add_grant(
            &Grant { schedule: Some(schedule.clone()), expires_at: Some(9_000), ..grant("m-1", Right::Control, Target::Room(room.id)) },
            &Actor::owner(),
            ORIGIN,
            4,
        )
        .unwrap();
    store
        .add_grant(&Grant { effect: Effect::Deny, ..grant("m-1", Right::View, Target::Device(device.clone())) }, &Actor::owner(), ORIGIN, 4)
        .unwrap();
    let family = store.family().unwrap();
    assert_eq!(family.device_rooms, [(device.clone(), room.id)]);
    assert_eq!(family.grants.len(), 2);
    assert_eq!(family.grants[0], Grant { granted_by: FOUNDING_OWNER.into(), ..on_room.clone() });
    assert_eq!(family.grants[0].schedule, Some(schedule));
    assert_eq!(family.grants[1].effect, Effect::Deny);
    store.remove_room(room.id, &Actor::owner(), ORIGIN, 5).unwrap();
    store.forget(&device, &Actor::owner(), ORIGIN, 6).unwrap();
    let family = store.family().unwrap();
    assert!(family.grants.is_empty() && family.device_rooms.is_empty(), "{family:?}");
}

#[test]
fn the_audit_names_who_from_where_and_whom_a_personal_device_concerns() {
    let (mut store, device) = home_with_device();
    store.add_member("m-1", "Kim", Role::Adult, &Actor::owner(), ORIGIN, 2).unwrap();
    store.set_device_member(&device, Some("m-1"), &Actor::owner(), ORIGIN, 3).unwrap();
    let sam = Actor::member("m-2", Some("10.0.0.7".into()));
    store.record_audit(4, &sam, "web", "review", &format!("{} since 7d", device.as_str()), false).unwrap();
    store.record_audit(5, &sam, "web", "configure", device.as_str(), true).unwrap();
    store.record_audit(6, &Actor::owner(), "cli", "add_room", "1 Hall", false).unwrap();
    let kims = store.audit_page(&crate::audit::AuditQuery { visible_to: Some("m-1".into()), limit: 50, ..Default::default() }).unwrap();
    let actions: Vec<(&str, bool)> = kims.iter().map(|a| (a.action.as_str(), a.refused)).collect();
    assert_eq!(actions, [("configure", true), ("review", false)], "Kim sees what was done to her phone, not the rest");
    assert_eq!(kims[0].address, "10.0.0.7");
    assert_eq!(kims[0].device_id.as_deref(), Some(device.as_str()));
    let sams = store.audit_page(&crate::audit::AuditQuery { actor: Some("m-2".into()), limit: 1, ..Default::default() }).unwrap();
    assert_eq!(sams.len(), 1);
    let older = store
        .audit_page(&crate::audit::AuditQuery { actor: Some("m-2".into()), before: Some(sams[0].id), limit: 10, ..Default::default() })
        .unwrap();
    assert_eq!(older.len(), 1, "paging backwards");
}

#[test]
fn a_merge_keeps_the_name_a_person_gave_either_record() {
    let (mut store, phone) = home_with_device();
    store.rename_device(&phone, "Kim's phone", &Actor::owner(), ORIGIN, 2).unwrap();
    // The record that is kept was named by discovery; the absorbed one by a person.
    let old_record = DeviceId::parse("d-0000000000a2").unwrap();
    store.add_device(&old_record, "iPhone-7f3a", &Actor::owner(), ORIGIN, 2).unwrap();
    store.conn.execute("UPDATE devices SET named_by_person = 0 WHERE id = ?1", [old_record.as_str()]).unwrap();
    let (kept, absorbed) = store.answer_merge(&phone, &old_record, crate::MergeAnswer::Merge, &Actor::owner(), ORIGIN, 5).unwrap().unwrap();
    assert_eq!((kept.id.clone(), absorbed), (old_record, phone), "the case this checks");
    let kept = store.device(&kept.id).unwrap().device;
    assert_eq!((kept.name.as_str(), kept.named_by_person), ("Kim's phone", true));
}

#[test]
fn a_merge_keeps_rooms_personal_marks_and_grants_and_never_joins_two_members_devices() {
    let (mut store, phone) = home_with_device();
    let old_record = DeviceId::parse("d-0000000000a2").unwrap();
    store.add_device(&old_record, "Phone (old record)", &Actor::owner(), ORIGIN, 2).unwrap();
    store.add_member("m-1", "Kim", Role::Adult, &Actor::owner(), ORIGIN, 3).unwrap();
    store.add_member("m-2", "Sam", Role::Adult, &Actor::owner(), ORIGIN, 3).unwrap();
    let room = store.add_room("Hall", &Actor::owner(), ORIGIN, 3).unwrap();
    store.set_device_member(&old_record, Some("m-1"), &Actor::owner(), ORIGIN, 4).unwrap();
    store.set_device_room(&old_record, Some(room.id), &Actor::owner(), ORIGIN, 4).unwrap();
    store
        .add_grant(
            &Grant { effect: Effect::Deny, ..grant("m-2", Right::View, Target::Device(old_record.clone())) },
            &Actor::owner(),
            ORIGIN,
            4,
        )
        .unwrap();
    // A record holding a personal mark, a room or a grant is a person's decision: an
    // announcement cannot fold it away.
    assert!(crate::identity::holds_decision(&store.conn, &old_record).unwrap());
    let (kept, absorbed) = store.answer_merge(&phone, &old_record, crate::MergeAnswer::Merge, &Actor::owner(), ORIGIN, 5).unwrap().unwrap();
    let family = store.family().unwrap();
    assert_eq!(family.device_members, [(kept.id.clone(), "m-1".to_owned())], "still Kim's (absorbed {absorbed})");
    assert_eq!(family.device_rooms, [(kept.id.clone(), room.id)]);
    assert_eq!((family.grants.len(), &family.grants[0].target), (1, &Target::Device(kept.id.clone())), "Sam's deny still holds");

    let sams = DeviceId::parse("d-0000000000a3").unwrap();
    store.add_device(&sams, "Sam's phone", &Actor::owner(), ORIGIN, 6).unwrap();
    store.set_device_member(&sams, Some("m-2"), &Actor::owner(), ORIGIN, 6).unwrap();
    let err = store.answer_merge(&kept.id, &sams, crate::MergeAnswer::Merge, &Actor::owner(), ORIGIN, 7).unwrap_err();
    assert!(err.to_string().contains("two different members"), "{err}");
}
