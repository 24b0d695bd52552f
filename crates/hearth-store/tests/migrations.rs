//! A database written by any earlier release opens and migrates, keeping what it held.
//!
//! `tests/fixtures/schema-vN.sql` is a frozen database at schema version N, with a row in each
//! table a generic row fits (at version 13, 36 of 43 tables; the others' CHECKs and foreign keys
//! want rows written by hand, not done yet). They were written from the migrations as they stood
//! at version 13, not taken from databases real releases wrote; from now on written once by
//! `HEARTH_WRITE_MIGRATION_FIXTURES=1 cargo test -p hearth-store --test migrations -- --ignored`
//! when a migration is added, then never rewritten, so that a later change to an old migration's
//! SQL, or a new migration that fails on real rows, fails here.

// A test file: a failed unwrap is a failed test, with its line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hearth_store::Store;
use hearth_store::schema::{MIGRATIONS, latest_version};
use rusqlite::Connection;
use rusqlite::types::{Value, ValueRef};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The fixtures of this crate's directory as cargo names it when it runs the test, not where the
/// test was compiled: a build cache shared between checkouts must not send it to another one.
fn fixtures() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from).join("tests/fixtures")
}

fn tables(conn: &Connection) -> Vec<String> {
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT COUNT(*) FROM \"{table}\""), [], |r| r.get(0)).unwrap()
}

#[test]
fn every_frozen_database_migrates_to_the_latest_and_keeps_its_rows() {
    let mut checked = Vec::new();
    for version in 1..=latest_version() {
        let fixture = fixtures().join(format!("schema-v{version}.sql"));
        let sql = std::fs::read_to_string(&fixture).unwrap_or_else(|e| {
            panic!("{}: {e}; a migration was added without its frozen fixture (see this file's header)", fixture.display())
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.db");
        let before: BTreeMap<String, i64> = {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(&sql).unwrap();
            assert_eq!(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), version);
            tables(&conn).into_iter().map(|t| (t.clone(), count(&conn, &t))).collect()
        };
        assert!(before.get("devices").copied().unwrap_or(0) >= 1, "{}: the fixture holds a device", fixture.display());

        let store = Store::open(&path).unwrap_or_else(|e| panic!("schema version {version} does not open: {e}"));
        let devices = store.devices().unwrap_or_else(|e| panic!("schema version {version}: the devices do not read: {e}"));
        assert!(devices.iter().any(|d| d.id.as_str() == "d-000000000001"), "schema version {version}: its device is kept");
        drop(store);

        let conn = Connection::open(&path).unwrap();
        assert_eq!(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), latest_version());
        assert_eq!(conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).unwrap(), "ok");
        let broken: i64 = conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
        assert_eq!(broken, 0, "schema version {version}: rows left pointing nowhere");
        let now: Vec<String> = tables(&conn);
        for (table, rows) in &before {
            // Later migrations may drop or rebuild a table; a table that is still there keeps
            // its rows (none is emptied by an upgrade).
            if now.contains(table) {
                assert!(count(&conn, table) >= *rows, "schema version {version}: `{table}` lost rows in the upgrade");
            }
        }
        checked.push(version);
    }
    assert_eq!(checked.len() as i64, latest_version());
}

/// Values a column takes in a fixture row, by its name: what the CHECK constraints and the
/// store's readers accept.
fn value_for(table: &str, column: &str, declared: &str) -> Value {
    let text = |s: &str| Value::Text(s.to_owned());
    match column {
        "id" if table == "devices" => text("d-000000000001"),
        "device_id" | "holder" | "device_a" | "owner_device" => text("d-000000000001"),
        "device_b" => text("d-000000000002"),
        "state" | "to_state" => text("approved"),
        "from_state" => text("new"),
        "kind" => text("plug"),
        "rule" => text("test"),
        "direction" => text("publish"),
        "status" => text("allowed"),
        "action" => text("publish"),
        "decision" => text("allow"),
        "role" => text("owner"),
        "category" => text("energy"),
        "effect" => text("allow"),
        "right" => text("view"),
        "actor" => text("owner"),
        "origin" => text("cli"),
        "member_id" | "member" => text("owner"),
        "level" => text("unrestricted"),
        "retention" => text("metadata"),
        "protocol" => Value::Integer(4),
        "qos" | "waiting" | "sender_kind" | "named_by_person" | "present" | "online" | "retain" => Value::Integer(0),
        "connect" | "options" | "addresses" | "txt" | "keys" | "fields" | "pending_qos2" => text("[]"),
        _ if declared.contains("INT") => Value::Integer(1),
        _ if declared.contains("REAL") => Value::Real(1.0),
        _ if declared.contains("BLOB") => Value::Blob(vec![1, 2, 3]),
        _ => text(&format!("{table}-{column}")),
    }
}

/// One row in each table that takes one (retried until no more go in: foreign keys want their
/// parents first).
fn fill(conn: &Connection) -> Vec<String> {
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    let mut pending = tables(conn);
    let mut filled = Vec::new();
    loop {
        let before = pending.len();
        pending.retain(|table| {
            let mut stmt = conn.prepare(&format!("SELECT name, type, pk FROM pragma_table_info('{table}')")).unwrap();
            let columns: Vec<(String, String, i64)> =
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
            // An INTEGER PRIMARY KEY numbers itself.
            let columns: Vec<_> = columns.into_iter().filter(|(_, ty, pk)| !(*pk == 1 && ty == "INTEGER")).collect();
            let names: Vec<String> = columns.iter().map(|(n, _, _)| format!("\"{n}\"")).collect();
            let values: Vec<Value> = columns.iter().map(|(n, ty, _)| value_for(table, n, &ty.to_ascii_uppercase())).collect();
            let marks = vec!["?"; values.len()].join(", ");
            let insert = format!("INSERT INTO \"{table}\" ({}) VALUES ({marks})", names.join(", "));
            match conn.execute(&insert, rusqlite::params_from_iter(values.iter())) {
                Ok(_) => {
                    filled.push(table.clone());
                    false
                }
                Err(_) => true,
            }
        });
        if pending.len() == before {
            break;
        }
    }
    filled
}

fn quoted(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => format!("{f:?}"),
        ValueRef::Text(t) => format!("'{}'", String::from_utf8_lossy(t).replace('\'', "''")),
        ValueRef::Blob(b) => format!("X'{}'", b.iter().map(|x| format!("{x:02X}")).collect::<String>()),
    }
}

/// The database as SQL: its schema as SQLite keeps it, then its rows, then its version.
fn dump(conn: &Connection, version: i64) -> String {
    let mut out = String::from("-- Frozen by crates/hearth-store/tests/migrations.rs: do not edit.\nPRAGMA foreign_keys = OFF;\nBEGIN;\n");
    let mut stmt =
        conn.prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type DESC, name").unwrap();
    for sql in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        out.push_str(&format!("{};\n", sql.unwrap()));
    }
    for table in tables(conn) {
        let mut rows = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let n = rows.column_count();
        let mut q = rows.query([]).unwrap();
        while let Some(row) = q.next().unwrap() {
            let values: Vec<String> = (0..n).map(|i| quoted(row.get_ref(i).unwrap())).collect();
            out.push_str(&format!("INSERT INTO \"{table}\" VALUES ({});\n", values.join(", ")));
        }
    }
    out.push_str(&format!("PRAGMA user_version = {version};\nCOMMIT;\n"));
    out
}

/// Writes the fixture of each schema version that has none yet (never rewrites one).
#[test]
#[ignore = "writes the frozen fixtures: run by hand when a migration is added"]
fn write_missing_fixtures() {
    if std::env::var_os("HEARTH_WRITE_MIGRATION_FIXTURES").is_none() {
        return;
    }
    std::fs::create_dir_all(fixtures()).unwrap();
    for version in 1..=latest_version() {
        let file = fixtures().join(format!("schema-v{version}.sql"));
        if file.exists() {
            continue;
        }
        let conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..version as usize] {
            conn.execute_batch(sql).unwrap();
        }
        let filled = fill(&conn);
        eprintln!("schema v{version}: rows in {}", filled.join(", "));
        std::fs::write(&file, dump(&conn, version)).unwrap();
    }
}
