//! The schema and its upgrades.
//!
//! `PRAGMA user_version` holds the version. Each entry of [`MIGRATIONS`] upgrades from the
//! version before it and runs in its own transaction, so a failed upgrade leaves the file as it
//! was. Never edit a released migration: add a new one, and a test that upgrades a frozen copy
//! of the previous schema.

use crate::StoreError;
use rusqlite::Connection;
use std::path::Path;

/// Index i holds the SQL that upgrades version i to version i + 1.
pub const MIGRATIONS: &[&str] = &[
    // 1: the device inventory.
    r#"
    CREATE TABLE devices (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('new', 'approved', 'blocked')),
        kind        TEXT NOT NULL,
        vendor      TEXT,
        model       TEXT,
        rule        TEXT NOT NULL,
        reason      TEXT NOT NULL,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        online      INTEGER NOT NULL
    ) STRICT;
    -- Stable keys (mac:, hap:, host: ...) that tie a device's services together.
    CREATE TABLE identity_keys (
        key        TEXT PRIMARY KEY,
        device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX identity_keys_device ON identity_keys(device_id);
    -- The latest sighting of each service instance.
    CREATE TABLE sightings (
        service_type  TEXT NOT NULL,
        instance      TEXT NOT NULL,
        device_id     TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        host          TEXT NOT NULL,
        port          INTEGER NOT NULL,
        addresses     TEXT NOT NULL,  -- JSON array of strings
        txt           TEXT NOT NULL,  -- JSON array of {key, value}
        first_seen    INTEGER NOT NULL,
        last_seen     INTEGER NOT NULL,
        present       INTEGER NOT NULL,
        PRIMARY KEY (service_type, instance)
    ) STRICT;
    CREATE INDEX sightings_device ON sightings(device_id);
    CREATE TABLE state_changes (
        id         INTEGER PRIMARY KEY,
        device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        from_state TEXT,
        to_state   TEXT NOT NULL,
        actor      TEXT NOT NULL,
        origin     TEXT NOT NULL,
        at         INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX state_changes_device ON state_changes(device_id, at);
    "#,
    // 2: the home's audit log, for actions whose subject is gone afterwards (forgetting a device
    // deletes every row about it, yet who forgot it, and when, must stay on record).
    r#"
    CREATE TABLE audit (
        id       INTEGER PRIMARY KEY,
        at       INTEGER NOT NULL,
        actor    TEXT NOT NULL,
        origin   TEXT NOT NULL,
        action   TEXT NOT NULL,
        subject  TEXT NOT NULL
    ) STRICT;
    "#,
    // 3: the broker: each device's credential, its manifest (topic rules) and the gate's record
    // of what it decided. Rows go with their device when it is forgotten.
    r#"
    CREATE TABLE credentials (
        device_id    TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
        username     TEXT NOT NULL UNIQUE,
        secret_hash  TEXT NOT NULL,   -- sha256:<hex> of a 192-bit random secret; never the secret
        client_id    TEXT UNIQUE,     -- when bound, the only client id these credentials may use
        issued_at    INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE topic_rules (
        device_id   TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        direction   TEXT NOT NULL CHECK (direction IN ('publish', 'subscribe')),
        pattern     TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('allowed', 'denied', 'learned')),
        since       INTEGER NOT NULL,
        tries       INTEGER NOT NULL DEFAULT 0,  -- refused attempts seen, for learned rules
        last_try    INTEGER,
        PRIMARY KEY (device_id, direction, pattern)
    ) STRICT;
    CREATE TABLE gate_decisions (
        id         INTEGER PRIMARY KEY,
        at         INTEGER NOT NULL,
        device_id  TEXT REFERENCES devices(id) ON DELETE CASCADE,  -- NULL: no device (bad credentials)
        client_id  TEXT NOT NULL,
        action     TEXT NOT NULL CHECK (action IN ('connect', 'publish', 'subscribe', 'deliver')),
        topic      TEXT NOT NULL,
        bytes      INTEGER NOT NULL,
        qos        INTEGER NOT NULL,
        decision   TEXT NOT NULL CHECK (decision IN ('allow', 'redact', 'drop')),
        reason     TEXT
    ) STRICT;
    CREATE INDEX gate_decisions_device ON gate_decisions(device_id, at);
    -- Devices let in without a credential (firmware that cannot do one), pinned to the client id
    -- and, when known, the source address they connect from.
    CREATE TABLE anonymous_clients (
        device_id  TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
        client_id  TEXT NOT NULL UNIQUE,
        address    TEXT,
        since      INTEGER NOT NULL
    ) STRICT;
    "#,
    // 4: what devices' discovery messages describe (Home Assistant, Tasmota, Zigbee2MQTT): the
    // devices (children behind a bridge, or the device itself as its firmware names it) and
    // their entities. `scope` is the discovery topic: a new message on it replaces its rows.
    r#"
    CREATE TABLE described_devices (
        device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        scope      TEXT NOT NULL,
        source     TEXT NOT NULL,
        key        TEXT NOT NULL,
        name       TEXT NOT NULL,
        vendor     TEXT,
        model      TEXT,
        PRIMARY KEY (device_id, scope, key)
    ) STRICT;
    CREATE TABLE entities (
        device_id      TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        scope          TEXT NOT NULL,
        source         TEXT NOT NULL,
        key            TEXT NOT NULL,
        described      TEXT,
        component      TEXT NOT NULL,
        name           TEXT NOT NULL,
        unique_id      TEXT,
        state_topic    TEXT,
        command_topic  TEXT,
        device_class   TEXT,
        unit           TEXT,
        updated_at     INTEGER NOT NULL,
        PRIMARY KEY (device_id, key)
    ) STRICT;
    CREATE INDEX entities_scope ON entities(scope);
    CREATE INDEX described_devices_scope ON described_devices(scope);
    "#,
    // 5: the ledger: every message's metadata, what each topic carries (its fields and their
    // categories), payload samples within retention, hourly rollups for charts; and each
    // device's privacy choices. Everything goes with its device when it is forgotten.
    r#"
    CREATE TABLE ledger_topics (
        id            INTEGER PRIMARY KEY,
        device_id     TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        topic         TEXT NOT NULL,
        content_type  TEXT NOT NULL,
        categories    INTEGER NOT NULL,   -- bit set of every category seen on it
        first_seen    INTEGER NOT NULL,
        last_seen     INTEGER NOT NULL,
        UNIQUE (device_id, topic)
    ) STRICT;
    CREATE TABLE ledger_messages (
        id          INTEGER PRIMARY KEY,
        at          INTEGER NOT NULL,
        device_id   TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        topic_id    INTEGER NOT NULL REFERENCES ledger_topics(id) ON DELETE CASCADE,
        bytes       INTEGER NOT NULL,
        qos         INTEGER NOT NULL,
        decision    TEXT NOT NULL CHECK (decision IN ('allow', 'redact', 'drop')),
        reason      TEXT,
        categories  INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX ledger_messages_device ON ledger_messages(device_id, at);
    CREATE INDEX ledger_messages_topic ON ledger_messages(topic_id);
    CREATE INDEX ledger_messages_at ON ledger_messages(at);
    CREATE TABLE ledger_fields (
        topic_id    INTEGER NOT NULL REFERENCES ledger_topics(id) ON DELETE CASCADE,
        path        TEXT NOT NULL,
        value_type  TEXT NOT NULL,
        category    TEXT NOT NULL,
        example     TEXT,               -- NULL unless its category's retention keeps values
        example_at  INTEGER,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        PRIMARY KEY (topic_id, path)
    ) STRICT;
    CREATE TABLE ledger_samples (
        id        INTEGER PRIMARY KEY,
        topic_id  INTEGER NOT NULL REFERENCES ledger_topics(id) ON DELETE CASCADE,
        at        INTEGER NOT NULL,
        payload   BLOB NOT NULL
    ) STRICT;
    CREATE INDEX ledger_samples_topic ON ledger_samples(topic_id, at);
    CREATE TABLE ledger_category_hours (
        device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        hour       INTEGER NOT NULL,
        category   TEXT NOT NULL,
        messages   INTEGER NOT NULL,
        bytes      INTEGER NOT NULL,
        PRIMARY KEY (device_id, category, hour)   -- in this order: "which kinds, when" is one ordered pass
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE ledger_topic_hours (
        topic_id   INTEGER NOT NULL REFERENCES ledger_topics(id) ON DELETE CASCADE,
        hour       INTEGER NOT NULL,
        messages   INTEGER NOT NULL,
        bytes      INTEGER NOT NULL,
        refused    INTEGER NOT NULL,
        redacted   INTEGER NOT NULL,
        PRIMARY KEY (topic_id, hour)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE ledger_refusal_hours (
        device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        hour       INTEGER NOT NULL,
        reason     TEXT NOT NULL,
        count      INTEGER NOT NULL,
        PRIMARY KEY (device_id, hour, reason)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE privacy_retention (
        device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        category   TEXT NOT NULL,
        retention  TEXT NOT NULL,        -- none | metadata | <n>d
        PRIMARY KEY (device_id, category)
    ) STRICT;
    CREATE TABLE privacy_redactions (
        device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        path       TEXT NOT NULL,
        PRIMARY KEY (device_id, path)
    ) STRICT;
    "#,
    // 6: announcements may not decide who is who when a person has decided something. A
    // sighting linking two records that both hold decisions becomes a question for a person
    // (merge_proposals; `kept_apart` remembers a "no"); one naming two ids of one kind is only
    // recorded (identity_conflicts). Both bounded by the code that writes them.
    r#"
    CREATE TABLE merge_proposals (
        device_a      TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        device_b      TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        service_type  TEXT NOT NULL,   -- the latest announcement that linked them
        instance      TEXT NOT NULL,
        host          TEXT NOT NULL,
        addresses     TEXT NOT NULL,   -- JSON array of strings
        first_at      INTEGER NOT NULL,
        last_at       INTEGER NOT NULL,
        seen          INTEGER NOT NULL,
        kept_apart    INTEGER NOT NULL,
        PRIMARY KEY (device_a, device_b),
        CHECK (device_a < device_b)
    ) STRICT;
    CREATE INDEX merge_proposals_b ON merge_proposals(device_b);
    CREATE TABLE identity_conflicts (
        service_type  TEXT NOT NULL,
        instance      TEXT NOT NULL,
        host          TEXT NOT NULL,
        addresses     TEXT NOT NULL,   -- JSON array of strings
        keys          TEXT NOT NULL,   -- JSON array of the ids it named together
        first_at      INTEGER NOT NULL,
        last_at       INTEGER NOT NULL,
        seen          INTEGER NOT NULL,
        PRIMARY KEY (service_type, instance)
    ) STRICT;
    "#,
    // 7: CONNECT attempts as counts per device (or none: `device_key` ''), source address and
    // outcome ('allow' or the reason refused), so that a flood of CONNECTs grows one row's count,
    // not the file; the latest client id and username are kept cut short.
    r#"
    CREATE TABLE connect_attempts (
        device_id   TEXT REFERENCES devices(id) ON DELETE CASCADE,
        device_key  TEXT NOT NULL,
        address     TEXT NOT NULL,   -- '' when unknown
        outcome     TEXT NOT NULL,
        count       INTEGER NOT NULL,
        first_at    INTEGER NOT NULL,
        last_at     INTEGER NOT NULL,
        client_id   TEXT NOT NULL,
        username    TEXT,
        PRIMARY KEY (device_key, address, outcome)
    ) STRICT;
    CREATE INDEX connect_attempts_last ON connect_attempts(last_at);
    "#,
    // 8: a person's word on which device describes an entity (`claim`: `topic:<discovery topic>`
    // or `uid:<unique_id>`): it wins over whichever device described it first.
    r#"
    CREATE TABLE entity_owners (
        claim      TEXT PRIMARY KEY,
        device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        at         INTEGER NOT NULL
    ) STRICT;
    "#,
    // 9: browser sessions, so that a person sees where they are signed in and can end a session
    // at once (before, a signed cookie stayed valid for 30 days). The cookie's random token is
    // never stored, only its SHA-256.
    r#"
    CREATE TABLE browser_sessions (
        id          TEXT PRIMARY KEY,       -- shown to people, used to end it; not the token
        member      TEXT NOT NULL,          -- who signed in ('owner' until members exist)
        token_hash  TEXT NOT NULL UNIQUE,   -- sha256:<hex> of the cookie's token
        created_at  INTEGER NOT NULL,
        last_used   INTEGER NOT NULL,       -- updated at most once a minute
        expires_at  INTEGER NOT NULL,
        user_agent  TEXT NOT NULL,          -- what the browser said it is, cut short
        address     TEXT NOT NULL           -- where it was last used from
    ) STRICT;
    CREATE INDEX browser_sessions_member ON browser_sessions(member, last_used);
    "#,
    // 10: network permissions. A device's internet level when a person chose one (else the
    // setting's default), its destination rules, and what the DNS gate heard from it: each query
    // (pruned like the gate's decisions), each name it asked for (first and last seen, counts,
    // the latest answer), hourly counts per registrable domain for charts, and when it first
    // and last used Hearth's resolver (learning and enforcement status). All go with the device.
    r#"
    CREATE TABLE internet_levels (
        device_id  TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
        level      TEXT NOT NULL CHECK (level IN ('home_only', 'allowed_list', 'unrestricted')),
        since      INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE destination_rules (
        device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        domain     TEXT NOT NULL,
        verdict    TEXT NOT NULL CHECK (verdict IN ('allow', 'deny')),
        source     TEXT NOT NULL CHECK (source IN ('person', 'mud', 'learned', 'default')),
        since      INTEGER NOT NULL,
        PRIMARY KEY (device_id, domain)
    ) STRICT;
    CREATE TABLE dns_queries (
        id         INTEGER PRIMARY KEY,
        at         INTEGER NOT NULL,
        device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        name       TEXT NOT NULL,
        qtype      TEXT NOT NULL,
        action     TEXT NOT NULL CHECK (action IN ('forward', 'refuse', 'no_such_name')),
        because    TEXT NOT NULL,
        answers    TEXT NOT NULL,     -- JSON array of addresses
        ttl        INTEGER
    ) STRICT;
    CREATE INDEX dns_queries_device ON dns_queries(device_id, at);
    CREATE INDEX dns_queries_at ON dns_queries(at);
    CREATE TABLE destinations (
        device_id     TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        name          TEXT NOT NULL,
        registrable   TEXT NOT NULL,
        first_seen    INTEGER NOT NULL,
        last_seen     INTEGER NOT NULL,
        queries       INTEGER NOT NULL,
        refused       INTEGER NOT NULL,
        last_action   TEXT NOT NULL,
        last_because  TEXT NOT NULL,
        last_answers  TEXT NOT NULL,  -- JSON array of addresses
        last_ttl      INTEGER,
        proposed      INTEGER NOT NULL,  -- its last query made it a proposal for a person
        PRIMARY KEY (device_id, name)
    ) STRICT;
    CREATE TABLE destination_hours (
        device_id    TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        hour         INTEGER NOT NULL,
        registrable  TEXT NOT NULL,
        queries      INTEGER NOT NULL,
        refused      INTEGER NOT NULL,
        PRIMARY KEY (device_id, hour, registrable)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE dns_clients (
        device_id    TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
        first_query  INTEGER NOT NULL,
        first_state  TEXT NOT NULL,   -- its state then: approved devices learn for a while
        last_query   INTEGER NOT NULL,
        address      TEXT NOT NULL,   -- where its latest query came from
        mac          TEXT             -- that address's link-layer address, when the kernel knew it
    ) STRICT;
    -- How many query rows each device has kept per day (its budget), without counting them.
    CREATE TABLE dns_query_days (
        device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        day        INTEGER NOT NULL,
        kept       INTEGER NOT NULL,
        PRIMARY KEY (device_id, day)
    ) STRICT, WITHOUT ROWID;
    -- Every link-layer address a device's queries came from (bounded per device by the code):
    -- the firewall holds each, so that a device showing a made-up one does not free its real one.
    CREATE TABLE dns_client_macs (
        device_id   TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        mac         TEXT NOT NULL,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        PRIMARY KEY (device_id, mac)
    ) STRICT;
    "#,
    // 11: the family. Members (the founding owner, `owner`, exists from the start: rows written
    // before members existed name it), one-use invitations (hash only), password hashes
    // (argon2id, PHC strings), rooms, which room a device is in and whose personal device it is,
    // and grants. A removed member's row stays (marked removed) so the audit can still name them.
    // The audit gains where a request came from, whether it was refused, the device it touched
    // and the member whose personal device that is (so they can see it).
    r#"
    CREATE TABLE members (
        id             TEXT PRIMARY KEY,
        name           TEXT NOT NULL,
        role           TEXT NOT NULL CHECK (role IN ('owner', 'adult', 'child', 'guest')),
        password_hash  TEXT,
        created_at     INTEGER NOT NULL,
        created_by     TEXT NOT NULL,
        removed_at     INTEGER
    ) STRICT;
    CREATE UNIQUE INDEX members_name ON members(name COLLATE NOCASE) WHERE removed_at IS NULL;
    INSERT INTO members (id, name, role, created_at, created_by) VALUES ('owner', 'Owner', 'owner', 0, 'hearth');
    CREATE TABLE invitations (
        token_hash  TEXT PRIMARY KEY,
        member_id   TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        created_by  TEXT NOT NULL
    ) STRICT;
    CREATE TABLE rooms (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the audit names rooms by number
        name        TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    ) STRICT;
    CREATE UNIQUE INDEX rooms_name ON rooms(name COLLATE NOCASE);
    CREATE TABLE device_rooms (
        device_id  TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
        room_id    INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE
    ) STRICT;
    CREATE TABLE device_members (
        device_id  TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
        member_id  TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE
    ) STRICT;
    CREATE TABLE grants (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a stale revoke must not hit another grant
        member_id   TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
        grant_right TEXT NOT NULL CHECK (grant_right IN ('view', 'control', 'review', 'configure')),
        effect      TEXT NOT NULL CHECK (effect IN ('allow', 'deny')),
        room_id     INTEGER REFERENCES rooms(id) ON DELETE CASCADE,
        device_id   TEXT REFERENCES devices(id) ON DELETE CASCADE,
        schedule    TEXT,              -- JSON, the home's local time
        expires_at  INTEGER,
        granted_by  TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        CHECK (room_id IS NULL OR device_id IS NULL)
    ) STRICT;
    CREATE INDEX grants_member ON grants(member_id);
    ALTER TABLE audit ADD COLUMN address TEXT NOT NULL DEFAULT '';
    ALTER TABLE audit ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE audit ADD COLUMN device_id TEXT;
    ALTER TABLE audit ADD COLUMN concerns TEXT;
    CREATE INDEX audit_actor ON audit(actor, id);
    CREATE INDEX audit_device ON audit(device_id, id);
    CREATE INDEX audit_concerns ON audit(concerns, id);
    "#,
    // 12: the broker's state that outlives a restart: persistent MQTT sessions (their
    // subscriptions and the messages waiting for them) and retained messages. Written by the hub
    // from the broker's changes every second and whole at a clean shutdown (see
    // hearth-broker's `persist`). Keyed by client id, not by device: a device forgotten while
    // Hearth is stopped loses its sessions when they are put back (the gate no longer knows it).
    r#"
    CREATE TABLE mqtt_sessions (
        client_id        TEXT PRIMARY KEY,
        username         TEXT,               -- the device id; NULL without a credential
        protocol         INTEGER NOT NULL CHECK (protocol IN (3, 4, 5)),
        expiry_secs      INTEGER NOT NULL CHECK (expiry_secs >= 0),
        created_at       INTEGER NOT NULL,
        disconnected_at  INTEGER,            -- NULL: connected when saved
        connect          TEXT NOT NULL       -- the CONNECT without password, Will or certificate
    ) STRICT;
    CREATE TABLE mqtt_subscriptions (
        client_id  TEXT NOT NULL REFERENCES mqtt_sessions(client_id) ON DELETE CASCADE,
        filter     TEXT NOT NULL,
        options    TEXT NOT NULL,
        PRIMARY KEY (client_id, filter)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE mqtt_messages (
        id                INTEGER PRIMARY KEY,   -- the order they were queued in
        client_id         TEXT NOT NULL,
        waiting           INTEGER NOT NULL CHECK (waiting IN (0, 1, 2)),
        packet_id         INTEGER,
        sender_client_id  TEXT NOT NULL,
        sender_username   TEXT,
        sender_kind       INTEGER NOT NULL CHECK (sender_kind IN (0, 1, 2)),
        topic             TEXT NOT NULL,
        qos               INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
        retain            INTEGER NOT NULL,
        payload           BLOB NOT NULL,
        properties        TEXT,
        published_at      INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX mqtt_messages_client ON mqtt_messages(client_id, id);
    CREATE TABLE mqtt_retained (
        topic             TEXT PRIMARY KEY,
        sender_client_id  TEXT NOT NULL,
        sender_username   TEXT,
        sender_kind       INTEGER NOT NULL CHECK (sender_kind IN (0, 1, 2)),
        qos               INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
        payload           BLOB NOT NULL,
        properties        TEXT,
        published_at      INTEGER NOT NULL
    ) STRICT;
    "#,
    // 13: a name a person gave a device: discovery no longer renames it.
    r#"
    ALTER TABLE devices ADD COLUMN named_by_person INTEGER NOT NULL DEFAULT 0 CHECK (named_by_person IN (0, 1));
    "#,
    // 14: how a described reading's value is read (Home Assistant's `value_template`), and where
    // a Tasmota publishes the readings its discovery lists without a topic: the device page's
    // live readings. Rows filed before stay without them until the device describes itself
    // again (its discovery is retained, so at its next connection).
    r#"
    ALTER TABLE entities ADD COLUMN value_template TEXT;
    ALTER TABLE described_devices ADD COLUMN readings_topic TEXT;
    "#,
    // 15: CHECK constraints that list three or more values (`state IN ('new', 'approved',
    // 'blocked')`) written as comparisons instead. SQLite checks such a list by building a
    // temporary index of its values for every row written, which was about half the recorder's
    // time under the broker's flood (crates/hearth-store/benches/recorder.rs: 92 000 to 106 000
    // messages a second before, 146 000 to 187 000 after, run in turn). Same constraints, same
    // rows: the tables' definitions are rewritten in place (the procedure SQLite documents for
    // removing a CHECK constraint without copying the table,
    // https://sqlite.org/lang_altertable.html#otheralter; each is replaced by an equivalent one,
    // which every row already meets), so that an upgrade is instant whatever the size of the
    // ledger and needs no room for a copy. `migrate` raises the schema's version after it, so that
    // every connection reads the definitions again.
    r#"
    PRAGMA writable_schema = ON;
    UPDATE sqlite_schema SET sql = replace(sql,
        'CHECK (state IN (''new'', ''approved'', ''blocked''))',
        'CHECK (state = ''new'' OR state = ''approved'' OR state = ''blocked'')')
    WHERE type = 'table' AND name = 'devices';
    UPDATE sqlite_schema SET sql = replace(sql,
        'CHECK (status IN (''allowed'', ''denied'', ''learned''))',
        'CHECK (status = ''allowed'' OR status = ''denied'' OR status = ''learned'')')
    WHERE type = 'table' AND name = 'topic_rules';
    UPDATE sqlite_schema SET sql = replace(replace(sql,
        'CHECK (action IN (''connect'', ''publish'', ''subscribe'', ''deliver''))',
        'CHECK (action = ''connect'' OR action = ''publish'' OR action = ''subscribe'' OR action = ''deliver'')'),
        'CHECK (decision IN (''allow'', ''redact'', ''drop''))',
        'CHECK (decision = ''allow'' OR decision = ''redact'' OR decision = ''drop'')')
    WHERE type = 'table' AND name = 'gate_decisions';
    UPDATE sqlite_schema SET sql = replace(sql,
        'CHECK (decision IN (''allow'', ''redact'', ''drop''))',
        'CHECK (decision = ''allow'' OR decision = ''redact'' OR decision = ''drop'')')
    WHERE type = 'table' AND name = 'ledger_messages';
    UPDATE sqlite_schema SET sql = replace(sql,
        'CHECK (level IN (''home_only'', ''allowed_list'', ''unrestricted''))',
        'CHECK (level = ''home_only'' OR level = ''allowed_list'' OR level = ''unrestricted'')')
    WHERE type = 'table' AND name = 'internet_levels';
    UPDATE sqlite_schema SET sql = replace(sql,
        'CHECK (source IN (''person'', ''mud'', ''learned'', ''default''))',
        'CHECK (source = ''person'' OR source = ''mud'' OR source = ''learned'' OR source = ''default'')')
    WHERE type = 'table' AND name = 'destination_rules';
    UPDATE sqlite_schema SET sql = replace(sql,
        'CHECK (action IN (''forward'', ''refuse'', ''no_such_name''))',
        'CHECK (action = ''forward'' OR action = ''refuse'' OR action = ''no_such_name'')')
    WHERE type = 'table' AND name = 'dns_queries';
    UPDATE sqlite_schema SET sql = replace(sql,
        'CHECK (role IN (''owner'', ''adult'', ''child'', ''guest''))',
        'CHECK (role = ''owner'' OR role = ''adult'' OR role = ''child'' OR role = ''guest'')')
    WHERE type = 'table' AND name = 'members';
    UPDATE sqlite_schema SET sql = replace(sql,
        'CHECK (grant_right IN (''view'', ''control'', ''review'', ''configure''))',
        'CHECK (grant_right = ''view'' OR grant_right = ''control'' OR grant_right = ''review'' OR grant_right = ''configure'')')
    WHERE type = 'table' AND name = 'grants';
    UPDATE sqlite_schema SET sql = replace(sql,
        'CHECK (protocol IN (3, 4, 5))',
        'CHECK (protocol BETWEEN 3 AND 5)')
    WHERE type = 'table' AND name = 'mqtt_sessions';
    UPDATE sqlite_schema SET sql = replace(replace(replace(sql,
        'CHECK (waiting IN (0, 1, 2))',
        'CHECK (waiting BETWEEN 0 AND 2)'),
        'CHECK (sender_kind IN (0, 1, 2))',
        'CHECK (sender_kind BETWEEN 0 AND 2)'),
        'CHECK (qos IN (0, 1, 2))',
        'CHECK (qos BETWEEN 0 AND 2)')
    WHERE type = 'table' AND name = 'mqtt_messages';
    UPDATE sqlite_schema SET sql = replace(replace(sql,
        'CHECK (sender_kind IN (0, 1, 2))',
        'CHECK (sender_kind BETWEEN 0 AND 2)'),
        'CHECK (qos IN (0, 1, 2))',
        'CHECK (qos BETWEEN 0 AND 2)')
    WHERE type = 'table' AND name = 'mqtt_retained';
    PRAGMA writable_schema = RESET;
    "#,
    // 16: the QoS 2 messages a persistent session's client has sent and not yet released, so
    // that the same one sent again after a restart of Hearth is not delivered twice: a JSON list
    // of [packet id, fingerprint], since rmqtt change 35 with a third element, true, when it may
    // be a second behind (see `mqtt_state.rs`'s `SavedPendingQos2`, hearth-broker's `persist`).
    r#"
    ALTER TABLE mqtt_sessions ADD COLUMN pending_qos2 TEXT NOT NULL DEFAULT '[]';
    "#,
    // 17: the ledger's messages are no longer indexed by time alone. Dropping that index alone
    // made the recorder file the broker's flood 13 % faster (an experiment: a median of 172 991
    // messages a second against 152 402); the hourly retention finds old rows by device and time
    // instead (`ledger_messages_device`), one device at a time (`windowed.rs`).
    r#"
    DROP INDEX ledger_messages_at;
    "#,
];

/// The versions whose migration rewrites definitions in `sqlite_schema` directly (see 15).
const REWRITES_DEFINITIONS: &[i64] = &[15];

pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings the database up to [`latest_version`].
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let found = version(conn).map_err(|e| StoreError::open(path, e))?;
    let known = latest_version();
    if found > known {
        return Err(StoreError::TooNew { path: path.to_path_buf(), found, known });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let to = index as i64 + 1;
        let fail = |source| StoreError::Migration { path: path.to_path_buf(), version: to, source };
        if REWRITES_DEFINITIONS.contains(&to) {
            // Off unless someone turned it on, but a connection in defensive mode would refuse the
            // rewrite and Hearth would not start.
            conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, false).map_err(fail)?;
        }
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        if REWRITES_DEFINITIONS.contains(&to) {
            // What `CREATE` and `ALTER` do themselves: other connections see the version change
            // and read the definitions again.
            let schema: i64 = tx.query_row("PRAGMA schema_version", [], |r| r.get(0)).map_err(fail)?;
            tx.pragma_update(None, "schema_version", schema + 1).map_err(fail)?;
        }
        tx.pragma_update(None, "user_version", to).map_err(fail)?;
        tx.commit().map_err(fail)?;
        tracing::info!(version = to, "database upgraded");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(conn: &Connection) -> Vec<String> {
        let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn migration_1_creates_the_inventory() {
        let mut conn = Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(MIGRATIONS[0]).unwrap();
        tx.commit().unwrap();
        assert_eq!(tables(&conn), ["devices", "identity_keys", "sightings", "state_changes"]);
    }

    /// Upgrades a frozen version-1 database holding a device to the latest, keeping the device.
    #[test]
    fn migration_2_adds_the_audit_log_and_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(
                "INSERT INTO devices VALUES ('d-000000000001','Plug','new','plug',NULL,NULL,'r','why',1,2,0);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &path).unwrap();
        assert_eq!(version(&conn).unwrap(), latest_version());
        assert!(tables(&conn).contains(&"audit".to_string()));
        let name: String = conn.query_row("SELECT name FROM devices", [], |r| r.get(0)).unwrap();
        assert_eq!(name, "Plug");
        // Running it again is a no-op.
        migrate(&mut conn, &path).unwrap();
    }

    /// Upgrades a frozen version-2 database to version 3: the broker tables, devices kept.
    #[test]
    fn migration_3_adds_the_broker_tables_and_keeps_data() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(MIGRATIONS[1]).unwrap();
        conn.execute_batch(
            "INSERT INTO devices VALUES ('d-000000000001','Plug','approved','plug',NULL,NULL,'r','why',1,2,0);
             PRAGMA user_version = 2;",
        )
        .unwrap();
        migrate(&mut conn, Path::new("v2.db")).unwrap();
        assert_eq!(version(&conn).unwrap(), latest_version());
        let all = tables(&conn);
        for t in ["credentials", "topic_rules", "gate_decisions", "devices"] {
            assert!(all.contains(&t.to_string()), "{t}");
        }
        conn.execute("PRAGMA foreign_keys = ON", []).unwrap();
        conn.execute("INSERT INTO credentials VALUES ('d-000000000001', 'd-000000000001', 'sha256:00', NULL, 3)", []).unwrap();
        conn.execute("DELETE FROM devices", []).unwrap();
        let left: i64 = conn.query_row("SELECT COUNT(*) FROM credentials", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0, "credentials go with their device");
    }

    /// Upgrades a frozen version-3 database to version 4: the discovery tables, devices kept.
    #[test]
    fn migration_4_adds_the_discovery_tables_and_keeps_data() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO devices VALUES ('d-000000000001','Plug','approved','plug',NULL,NULL,'r','why',1,2,0);
             INSERT INTO topic_rules VALUES ('d-000000000001','publish','tele/plug/#','allowed',1,0,NULL);
             PRAGMA user_version = 3;",
        )
        .unwrap();
        migrate(&mut conn, Path::new("v3.db")).unwrap();
        assert_eq!(version(&conn).unwrap(), latest_version());
        let all = tables(&conn);
        assert!(all.contains(&"entities".to_string()) && all.contains(&"described_devices".to_string()));
        let rules: i64 = conn.query_row("SELECT COUNT(*) FROM topic_rules", [], |r| r.get(0)).unwrap();
        assert_eq!(rules, 1, "the manifest survives the upgrade");
    }

    /// Upgrades a frozen version-5 database to version 6: the identity questions, devices kept.
    #[test]
    fn migration_6_adds_identity_questions_and_keeps_data() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..5] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO devices VALUES ('d-000000000001','Plug','approved','plug',NULL,NULL,'r','why',1,2,0);
             INSERT INTO devices VALUES ('d-000000000002','Lock','approved','lock',NULL,NULL,'r','why',1,2,0);
             PRAGMA user_version = 5;",
        )
        .unwrap();
        migrate(&mut conn, Path::new("v5.db")).unwrap();
        assert_eq!(version(&conn).unwrap(), latest_version());
        conn.execute("PRAGMA foreign_keys = ON", []).unwrap();
        conn.execute("INSERT INTO merge_proposals VALUES ('d-000000000001','d-000000000002','_http._tcp','x','h','[]',1,1,1,0)", [])
            .unwrap();
        assert!(
            conn.execute("INSERT INTO merge_proposals VALUES ('d-000000000002','d-000000000001','_http._tcp','x','h','[]',1,1,1,0)", [])
                .is_err(),
            "one row per pair, in order"
        );
        conn.execute("DELETE FROM devices WHERE id = 'd-000000000002'", []).unwrap();
        let left: i64 = conn.query_row("SELECT COUNT(*) FROM merge_proposals", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0, "a question goes with either device");
    }

    /// Upgrades a frozen version-8 database to version 9: the browser sessions, data kept.
    #[test]
    fn migration_9_adds_browser_sessions_and_keeps_data() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..8] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO devices VALUES ('d-000000000001','Plug','approved','plug',NULL,NULL,'r','why',1,2,0);
             INSERT INTO privacy_redactions VALUES ('d-000000000001','lat');
             PRAGMA user_version = 8;",
        )
        .unwrap();
        migrate(&mut conn, Path::new("v8.db")).unwrap();
        assert_eq!(version(&conn).unwrap(), latest_version());
        assert!(tables(&conn).contains(&"browser_sessions".to_string()));
        let kept: i64 = conn.query_row("SELECT COUNT(*) FROM privacy_redactions", [], |r| r.get(0)).unwrap();
        assert_eq!(kept, 1, "privacy choices survive the upgrade");
        conn.execute("INSERT INTO browser_sessions VALUES ('s-0000000000000001','owner','sha256:00',1,1,2,'ua','10.0.0.2')", []).unwrap();
        let twice =
            conn.execute("INSERT INTO browser_sessions VALUES ('s-0000000000000002','owner','sha256:00',1,1,2,'ua','10.0.0.2')", []);
        assert!(twice.is_err(), "a token hash belongs to one session");
    }

    #[test]
    fn migration_10_adds_network_permissions_and_forgetting_removes_them() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        for sql in &MIGRATIONS[..9] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO devices VALUES ('d-000000000001','Plug','approved','plug',NULL,NULL,'r','why',1,2,0);
             PRAGMA user_version = 9;",
        )
        .unwrap();
        migrate(&mut conn, Path::new("v9.db")).unwrap();
        assert_eq!(version(&conn).unwrap(), latest_version());
        conn.execute_batch(
            "INSERT INTO internet_levels VALUES ('d-000000000001','home_only',1);
             INSERT INTO destination_rules VALUES ('d-000000000001','vendor.test','allow','person',1);
             INSERT INTO destinations VALUES ('d-000000000001','a.vendor.test','vendor.test',1,1,1,0,'forward','x','[]',60,0);
             INSERT INTO dns_clients VALUES ('d-000000000001',1,'approved',1,'10.0.0.2',NULL);",
        )
        .unwrap();
        let bad = conn.execute("INSERT INTO internet_levels VALUES ('d-000000000001','everything',1)", []);
        assert!(bad.is_err(), "only the three levels");
        conn.execute("INSERT INTO dns_client_macs VALUES ('d-000000000001','02:00:00:00:00:01',1,1)", []).unwrap();
        conn.execute("DELETE FROM devices", []).unwrap();
        for table in ["internet_levels", "destination_rules", "destinations", "dns_clients", "dns_client_macs"] {
            let left: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).unwrap();
            assert_eq!(left, 0, "{table} keeps rows of a forgotten device");
        }
    }

    /// Upgrades a frozen version-14 database to version 15: every CHECK that listed values
    /// compares them instead, with the rows kept, the constraints still enforced (on a connection
    /// opened before the upgrade too), and no temporary index built for a row written.
    #[test]
    fn migration_15_checks_values_without_a_list_and_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v14.db");
        let mut conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..14] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO devices (id, name, state, kind, rule, reason, first_seen, last_seen, online)
                 VALUES ('d-000000000001','Plug','approved','plug','r','why',1,2,0);
             INSERT INTO gate_decisions (at, device_id, client_id, action, topic, bytes, qos, decision, reason)
                 VALUES (1, 'd-000000000001', 'plug', 'publish', 'tele/plug/STATE', 10, 1, 'allow', NULL);
             INSERT INTO mqtt_retained VALUES ('tele/plug/LWT', 'plug', 'd-000000000001', 1, 1, x'4f6e6c696e65', NULL, 1);
             PRAGMA user_version = 14;",
        )
        .unwrap();
        // Opened before the upgrade, with the old definitions read.
        let other = Connection::open(&path).unwrap();
        let before: i64 = other.query_row("SELECT COUNT(*) FROM gate_decisions", [], |r| r.get(0)).unwrap();
        assert_eq!(before, 1);

        // A connection in defensive mode (which forbids writing `sqlite_schema`) upgrades all the same.
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true).unwrap();
        migrate(&mut conn, &path).unwrap();
        assert_eq!(version(&conn).unwrap(), latest_version());
        let mut listing = conn.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%CHECK%'").unwrap();
        let definitions: Vec<(String, String)> =
            listing.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
        for (table, sql) in &definitions {
            // Two values are compared without an index (`named_by_person IN (0, 1)`); three are not.
            let lists = sql.split(" IN (").skip(1).map(|rest| rest.split(')').next().unwrap_or(rest));
            let long: Vec<&str> = lists.filter(|list| list.matches(',').count() >= 2).collect();
            assert!(long.is_empty(), "{table} still lists values: {long:?}");
        }
        assert!(definitions.iter().any(|(t, sql)| t == "gate_decisions" && sql.contains("action = 'deliver')")));
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
        let kept: (i64, i64) = conn
            .query_row("SELECT (SELECT COUNT(*) FROM gate_decisions), (SELECT COUNT(*) FROM mqtt_retained)", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(kept, (1, 1), "rows survive the upgrade");

        let decision = |action: &str, decision: &str| {
            format!(
                "INSERT INTO gate_decisions (at, device_id, client_id, action, topic, bytes, qos, decision, reason)
                 VALUES (2, 'd-000000000001', 'plug', '{action}', 't', 1, 0, '{decision}', NULL)"
            )
        };
        for c in [&conn, &other] {
            c.execute(&decision("deliver", "redact"), []).unwrap();
            for (action, verdict) in [("sneak", "allow"), ("publish", "maybe"), ("PUBLISH", "allow")] {
                let err = c.execute(&decision(action, verdict), []).unwrap_err();
                assert!(err.to_string().contains("CHECK constraint failed"), "{action} {verdict}: {err}");
            }
            let err = c.execute("UPDATE mqtt_retained SET qos = 3", []).unwrap_err();
            assert!(err.to_string().contains("CHECK constraint failed"), "{err}");
            let err = c.execute("UPDATE devices SET state = 'gone'", []).unwrap_err();
            assert!(err.to_string().contains("CHECK constraint failed"), "{err}");
        }
        // What the change is for: writing a row builds no temporary index for its checks, on the
        // connection opened before the upgrade too (it read the definitions again, as the
        // schema's version changed, when it wrote above).
        for c in [&conn, &other] {
            let mut plan = c.prepare(&format!("EXPLAIN {}", decision("publish", "allow"))).unwrap();
            let opcodes: Vec<String> = plan.query_map([], |r| r.get(1)).unwrap().map(Result::unwrap).collect();
            assert!(opcodes.iter().any(|o| o == "Insert"), "{opcodes:?}");
            assert!(!opcodes.iter().any(|o| o == "OpenEphemeral"), "{opcodes:?}");
        }
    }

    #[test]
    fn a_newer_database_is_refused_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        let err = migrate(&mut conn, Path::new("x.db")).unwrap_err();
        assert!(err.to_string().contains("newer Hearth"), "{err}");
        assert_eq!(version(&conn).unwrap(), 99);
    }
}
