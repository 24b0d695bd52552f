//! Filing many rows of one table at once: one statement for every [`ROWS_PER_STATEMENT`] rows
//! (`INSERT … VALUES (…), (…), …`) rather than one per row. At the broker's full rate the
//! recorder files two rows a message; a statement's own work (binding, opening and closing its
//! cursors, the interpreter's start) was a good part of each row's cost.
//!
//! Such a statement keeps a journal of the pages it changed, to undo it alone should one of its
//! constraints stop it halfway (a foreign key, NOT NULL, a CHECK). SQLite is built to keep that
//! journal in memory up to 1 MiB (`LIBSQLITE3_FLAGS` in `.cargo/config.toml`): 32 rows change at
//! most about a hundred pages of a table and its indexes, some 400 KiB.

use crate::StoreError;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Transaction, params_from_iter};

/// Rows in one statement. 32 rows of 9 columns bind 288 values, far below SQLite's limit (32 766).
pub const ROWS_PER_STATEMENT: usize = 32;

/// Inserts `rows` with `head`, an `INSERT INTO table (columns…)` naming `N` columns, in the order
/// given: whole statements of [`ROWS_PER_STATEMENT`] rows, then one row a statement for the rest
/// (one statement of each size would fill the statement cache).
pub fn insert_rows<const N: usize>(tx: &Transaction<'_>, head: &'static str, rows: &[[ValueRef<'_>; N]]) -> Result<(), StoreError> {
    let mut whole = rows.chunks_exact(ROWS_PER_STATEMENT);
    if whole.len() > 0 {
        let mut many = tx.prepare_cached(&statement(head, N, ROWS_PER_STATEMENT))?;
        for chunk in &mut whole {
            many.execute(params_from_iter(chunk.iter().flatten().map(|v| ToSqlOutput::Borrowed(*v))))?;
        }
    }
    let rest = whole.remainder();
    if !rest.is_empty() {
        let mut one = tx.prepare_cached(&statement(head, N, 1))?;
        for row in rest {
            one.execute(params_from_iter(row.iter().map(|v| ToSqlOutput::Borrowed(*v))))?;
        }
    }
    Ok(())
}

/// `head VALUES (?, …), …`: `rows` groups of `columns` placeholders.
fn statement(head: &str, columns: usize, rows: usize) -> String {
    let group = format!("({})", vec!["?"; columns].join(", "));
    format!("{head} VALUES {}", vec![group.as_str(); rows].join(", "))
}

/// SQLite's own default for a statement journal kept in memory: 64 KiB.
pub const DEFAULT_STATEMENT_JOURNAL_SPILL: i64 = 64 * 1024;

/// How this SQLite was built to keep a statement's journal: in memory up to some bytes, then
/// in a temporary file. `.cargo/config.toml` sets 1 MiB; cargo run from another directory
/// (`--manifest-path`, `cargo install --git`) does not read it, and the ledger is then filed
/// with about twice the kernel's CPU time: nothing else shows it.
#[derive(Debug, PartialEq, Eq)]
pub enum StatementJournal {
    /// Built with SQLite's own default, [`DEFAULT_STATEMENT_JOURNAL_SPILL`].
    Default,
    /// Spills past this many bytes (negative: never, always in memory).
    SpillsPast(i64),
    /// A value SQLite reports as it was written (`(1<<20)`, say) and this cannot read.
    Unreadable(String),
}

impl StatementJournal {
    /// The bytes past which it spills, when that is SQLite's default or less: what is worth a
    /// warning. `None` for more, for never, and for a value that cannot be read.
    pub fn spills_early(&self) -> Option<i64> {
        let bytes = match self {
            StatementJournal::Default => DEFAULT_STATEMENT_JOURNAL_SPILL,
            StatementJournal::SpillsPast(bytes) => *bytes,
            StatementJournal::Unreadable(_) => return None,
        };
        (0..=DEFAULT_STATEMENT_JOURNAL_SPILL).contains(&bytes).then_some(bytes)
    }
}

/// What this SQLite's compile options say of its statement journal (`PRAGMA compile_options`).
pub fn statement_journal(conn: &rusqlite::Connection) -> rusqlite::Result<StatementJournal> {
    let mut options = conn.prepare("PRAGMA compile_options")?;
    let mut rows = options.query([])?;
    while let Some(row) = rows.next()? {
        if let Some(value) = row.get_ref(0)?.as_str().ok().and_then(|o| o.strip_prefix("STMTJRNL_SPILL=")) {
            return Ok(value.parse().map_or_else(|_| StatementJournal::Unreadable(value.to_owned()), StatementJournal::SpillsPast));
        }
    }
    Ok(StatementJournal::Default)
}

/// A text value, or NULL.
pub fn text_or_null(text: Option<&str>) -> ValueRef<'_> {
    text.map_or(ValueRef::Null, ValueRef::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// A statement of many rows keeps a journal of what it changed; SQLite as built here keeps it
    /// in memory up to 1 MiB (`.cargo/config.toml`), as it would write it to a temporary file for
    /// every statement past its default 64 KiB. Built without that setting, this fails.
    #[test]
    fn sqlite_is_built_to_keep_a_mebibyte_of_statement_journal_in_memory() {
        let conn = Connection::open_in_memory().expect("a database");
        // `STMTJRNL_SPILL=1048576` among `PRAGMA compile_options`.
        assert_eq!(statement_journal(&conn).expect("the compile options"), StatementJournal::SpillsPast(1_048_576));
    }

    /// Warned of: SQLite's default and less. Not: more, never, or a value written as an
    /// expression, which is not taken for the default.
    #[test]
    fn only_a_journal_spilled_at_sqlites_default_or_sooner_is_worth_a_warning() {
        assert_eq!(StatementJournal::Default.spills_early(), Some(65_536));
        assert_eq!(StatementJournal::SpillsPast(0).spills_early(), Some(0));
        assert_eq!(StatementJournal::SpillsPast(65_536).spills_early(), Some(65_536));
        assert_eq!(StatementJournal::SpillsPast(65_537).spills_early(), None);
        assert_eq!(StatementJournal::SpillsPast(1_048_576).spills_early(), None);
        assert_eq!(StatementJournal::SpillsPast(-1).spills_early(), None);
        assert_eq!(StatementJournal::Unreadable("(1<<20)".into()).spills_early(), None);
    }

    #[test]
    fn statements_hold_the_placeholders_of_their_rows() {
        assert_eq!(statement("INSERT INTO t (a, b)", 2, 1), "INSERT INTO t (a, b) VALUES (?, ?)");
        assert_eq!(statement("INSERT INTO t (a)", 1, 3), "INSERT INTO t (a) VALUES (?), (?), (?)");
    }

    /// Every row lands, in order, with its values in their columns, whatever the number of rows
    /// against the statement's size (none, fewer, exactly, more, a remainder).
    #[test]
    fn every_row_is_inserted_in_order() {
        for count in [0, 1, ROWS_PER_STATEMENT - 1, ROWS_PER_STATEMENT, ROWS_PER_STATEMENT * 3 + 5] {
            let mut conn = Connection::open_in_memory().expect("a database");
            conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, name TEXT) STRICT").expect("a table");
            let names: Vec<String> = (0..count).map(|n| format!("row {n}")).collect();
            let rows: Vec<[ValueRef<'_>; 2]> =
                (0..count).map(|n| [ValueRef::Integer(n as i64), text_or_null((n % 2 == 0).then_some(names[n].as_str()))]).collect();
            let tx = conn.transaction().expect("a transaction");
            insert_rows(&tx, "INSERT INTO t (n, name)", &rows).expect("inserted");
            tx.commit().expect("committed");
            let found: Vec<(i64, Option<String>)> = conn
                .prepare("SELECT n, name FROM t ORDER BY id")
                .expect("a query")
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("read");
            let expected: Vec<(i64, Option<String>)> = (0..count).map(|n| (n as i64, (n % 2 == 0).then(|| format!("row {n}")))).collect();
            assert_eq!(found, expected, "{count} rows");
        }
    }
}
