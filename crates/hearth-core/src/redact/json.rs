//! A strict JSON scanner (RFC 8259) that records where each member of an object starts and
//! ends, so that a rewrite copies every byte that is not a removed member as it came (numbers
//! keep their digits, spacing and key order stay) and drops a removed member with one of its
//! commas, so that the result is still JSON. Keys match a path's levels ASCII-case-insensitively
//! once their escapes are decoded (`"l\u0061t"` is `lat`), and every duplicate of a matching key
//! goes. A string value that is itself a JSON text (`{"msg":"{\"lat\":5}"}`, as cheap firmware
//! sends it) is redacted as a document of its own and written back as a string.

use super::{Cursor, Rules, Step};
use std::borrow::Cow;

/// Whether a text begins as a JSON object or array does, so that failing to read it means
/// it is damaged JSON rather than something else.
pub(super) fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start_matches(JSON_SPACE).as_bytes().first(), Some(b'{' | b'['))
}

const JSON_SPACE: [char; 4] = [' ', '\t', '\n', '\r'];

/// The deepest nesting read, as serde_json's own limit (it refuses the 128th level): absurd
/// nesting is refused rather than followed down the broker thread's stack.
const MAX_DEPTH: usize = 127;

/// How many strings deep the scanner looks for JSON in a string value (`{"msg":"{\"lat\":5}"}`
/// is one): firmware wraps JSON in a string, rarely twice. Deeper than this, a string that may
/// hold a field is refused.
const MAX_EMBEDDED: usize = 4;

/// Why a JSON text was not rewritten.
#[derive(Debug)]
pub(super) enum Fail {
    /// It is not JSON (strictly, by RFC 8259).
    Broken,
    /// It is, but a string in it may hold a redacted field and cannot be read.
    Refused,
}

/// A strict JSON scanner over one text that rewrites only what lies on a redacted path.
pub(super) struct Json<'t, 'r, 'p> {
    text: &'t str,
    pos: usize,
    /// Objects and arrays open around `pos`.
    depth: usize,
    rules: &'r mut Rules<'p>,
    /// How many string values this text is inside.
    embedded: usize,
    /// False inside a member that goes: what its strings hold goes with it.
    inspect: bool,
    /// False when nothing in the text can change (no path to follow, no escaped string that
    /// could hold JSON): then it is only checked for being JSON, without keeping any spans.
    record: bool,
}

/// One member of an object as it stands in the text, and what becomes of it.
struct Member {
    start: usize,
    value_start: usize,
    end: usize,
    fate: Fate,
}

enum Fate {
    Keep,
    Replace(String),
    Remove,
}

impl<'t, 'r, 'p> Json<'t, 'r, 'p> {
    /// Reads `text` as one JSON value; returns the rewritten text if a member on a path went.
    /// `depth` counts what is open around the string the text came from, so that nesting is
    /// bounded across strings too.
    pub(super) fn document(
        text: &'t str,
        cursors: &[Cursor],
        rules: &'r mut Rules<'p>,
        depth: usize,
        embedded: usize,
    ) -> Result<Option<String>, Fail> {
        let record = !cursors.is_empty() || text.contains('\\');
        let mut json = Json { text, pos: 0, depth, rules, embedded, inspect: true, record };
        let rewritten = json.value(cursors)?;
        json.space();
        if json.pos != text.len() {
            return Err(Fail::Broken);
        }
        Ok(rewritten.map(|value| format!("{}{value}{}", &text[..json_start(text)], &text[json_end(text)..])))
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), Fail> {
        self.space();
        if self.peek() != Some(byte) {
            return Err(Fail::Broken);
        }
        self.pos += 1;
        Ok(())
    }

    /// One value at `pos` (after any space); its replacement if anything in it went.
    fn value(&mut self, cursors: &[Cursor]) -> Result<Option<String>, Fail> {
        self.space();
        match self.peek() {
            Some(b'{') => self.object(cursors),
            Some(b'[') => self.array(cursors),
            Some(b'"') => {
                let s = self.string()?;
                self.string_value(s, cursors)
            }
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(Fail::Broken),
        }
    }

    /// A string value that is itself a JSON text is redacted as one: every path applies from
    /// its top, and those on the way here go on inside it (`msg.lat` in `{"msg":"{\"lat\":1}"}`).
    fn string_value(&mut self, s: Str, cursors: &[Cursor]) -> Result<Option<String>, Fail> {
        // Without an escape a string holds no quote, so no key, so no field.
        if !s.escaped || !self.inspect {
            return Ok(None);
        }
        let inner = self.decode(s)?;
        let mut all = self.rules.starts();
        all.extend(cursors.iter().filter(|c| c.at > 0));
        match self.rules.embedded(&inner, &all, self.depth, self.embedded + 1)? {
            None => Ok(None),
            Some(rewritten) => serde_json::to_string(&rewritten).map(Some).map_err(|_| Fail::Refused),
        }
    }

    fn open(&mut self) -> Result<usize, Fail> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Fail::Broken);
        }
        let open = self.pos;
        self.pos += 1;
        self.space();
        Ok(open)
    }

    fn object(&mut self, cursors: &[Cursor]) -> Result<Option<String>, Fail> {
        let open = self.open()?;
        let mut members: Vec<Member> = Vec::new();
        let close = loop {
            if members.is_empty() && self.peek() == Some(b'}') {
                break self.pos;
            }
            self.space();
            let start = self.pos;
            if self.peek() != Some(b'"') {
                return Err(Fail::Broken);
            }
            let key = self.string()?;
            self.expect(b':')?;
            let mut remove = false;
            let mut inner = Vec::new();
            if !cursors.is_empty() {
                let key = self.decode(key)?;
                for cursor in cursors {
                    match self.rules.step(*cursor, &key) {
                        Step::Remove => {
                            remove = true;
                            self.rules.removed[cursor.path] = true;
                        }
                        Step::Into(next) => inner.push(next),
                        Step::Miss => {}
                    }
                }
            }
            self.space();
            let value_start = self.pos;
            // A member that goes is still read: what follows it must be JSON all the same.
            let inspect = self.inspect;
            self.inspect = inspect && !remove;
            let replaced = self.value(if remove { &[] } else { &inner });
            self.inspect = inspect;
            let replaced = replaced?;
            let fate = match replaced {
                _ if remove => Fate::Remove,
                Some(value) => Fate::Replace(value),
                None => Fate::Keep,
            };
            if self.record {
                members.push(Member { start, value_start, end: self.pos, fate });
            }
            self.space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => break self.pos,
                _ => return Err(Fail::Broken),
            }
        };
        self.pos += 1;
        self.depth -= 1;
        if members.iter().all(|m| matches!(m.fate, Fate::Keep)) {
            return Ok(None);
        }
        Ok(Some(self.rebuild_object(open, close, &members)))
    }

    /// The object with its removed members gone: each kept member is followed by the text that
    /// followed it (comma and spacing) unless it is now the last, which the text after the
    /// original last member (spacing and `}`) follows.
    fn rebuild_object(&self, open: usize, close: usize, members: &[Member]) -> String {
        let text = self.text;
        let (Some(first), Some(last)) = (members.first(), members.last()) else { return text[open..=close].to_owned() };
        let mut out = String::with_capacity(close + 1 - open);
        out.push_str(&text[open..first.start]);
        let kept: Vec<usize> = (0..members.len()).filter(|i| !matches!(members[*i].fate, Fate::Remove)).collect();
        for (n, &i) in kept.iter().enumerate() {
            let m = &members[i];
            match &m.fate {
                Fate::Replace(value) => {
                    out.push_str(&text[m.start..m.value_start]);
                    out.push_str(value);
                }
                _ => out.push_str(&text[m.start..m.end]),
            }
            if n + 1 < kept.len() {
                out.push_str(&text[m.end..members[i + 1].start]);
            }
        }
        out.push_str(&text[last.end..=close]);
        out
    }

    /// Arrays on a path are looked through: the path applies to each element.
    fn array(&mut self, cursors: &[Cursor]) -> Result<Option<String>, Fail> {
        let open = self.open()?;
        let mut replaced: Vec<(usize, usize, String)> = Vec::new();
        let mut first = true;
        let close = loop {
            if first && self.peek() == Some(b']') {
                break self.pos;
            }
            first = false;
            self.space();
            let start = self.pos;
            if let Some(value) = self.value(cursors)? {
                replaced.push((start, self.pos, value));
            }
            self.space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => break self.pos,
                _ => return Err(Fail::Broken),
            }
        };
        self.pos += 1;
        self.depth -= 1;
        if replaced.is_empty() {
            return Ok(None);
        }
        let mut out = String::with_capacity(close + 1 - open);
        let mut copied = open;
        for (start, end, value) in &replaced {
            out.push_str(&self.text[copied..*start]);
            out.push_str(value);
            copied = *end;
        }
        out.push_str(&self.text[copied..=close]);
        Ok(Some(out))
    }

    /// A string at `pos` (on its opening quote); the span of its content and whether it has
    /// escapes. Strict: no control characters, known escapes only, surrogates in pairs.
    fn string(&mut self) -> Result<Str, Fail> {
        let bytes = self.text.as_bytes();
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            // Most of a payload is string content: skip it in one tight loop.
            let plain = bytes.get(self.pos..).unwrap_or_default().iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            self.pos += plain.unwrap_or(bytes.len() - self.pos);
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Str { start, end: self.pos - 1, escaped });
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(0..=0x1F) | None => return Err(Fail::Broken),
                Some(_) => self.pos += 1,
            }
        }
    }

    fn escape(&mut self) -> Result<(), Fail> {
        match self.text.as_bytes().get(self.pos + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 2;
                Ok(())
            }
            Some(b'u') => {
                let unit = self.hex4(self.pos + 2)?;
                self.pos += 6;
                match unit {
                    0xD800..=0xDBFF if self.text.as_bytes().get(self.pos..self.pos + 2) == Some(b"\\u") => {
                        let low = self.hex4(self.pos + 2)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(Fail::Broken);
                        }
                        self.pos += 6;
                        Ok(())
                    }
                    0xD800..=0xDFFF => Err(Fail::Broken),
                    _ => Ok(()),
                }
            }
            _ => Err(Fail::Broken),
        }
    }

    fn hex4(&self, at: usize) -> Result<u16, Fail> {
        let digits = self.text.get(at..at + 4).ok_or(Fail::Broken)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Fail::Broken);
        }
        u16::from_str_radix(digits, 16).map_err(|_| Fail::Broken)
    }

    /// A string's content with its escapes decoded, as serde_json decodes it.
    fn decode(&self, s: Str) -> Result<Cow<'t, str>, Fail> {
        if !s.escaped {
            return Ok(Cow::Borrowed(&self.text[s.start..s.end]));
        }
        serde_json::from_str::<String>(&self.text[s.start - 1..=s.end]).map(Cow::Owned).map_err(|_| Fail::Broken)
    }

    fn literal(&mut self, word: &str) -> Result<Option<String>, Fail> {
        if !self.text[self.pos..].starts_with(word) {
            return Err(Fail::Broken);
        }
        self.pos += word.len();
        Ok(None)
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`, never parsed: its digits are copied.
    fn number(&mut self) -> Result<Option<String>, Fail> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Fail::Broken),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.some_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.some_digits()?;
        }
        Ok(None)
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn some_digits(&mut self) -> Result<(), Fail> {
        let from = self.pos;
        self.digits();
        if self.pos == from { Err(Fail::Broken) } else { Ok(()) }
    }
}

/// Where a JSON text's value begins and ends, past the space around it.
fn json_start(text: &str) -> usize {
    text.len() - text.trim_start_matches(JSON_SPACE).len()
}

fn json_end(text: &str) -> usize {
    text.trim_end_matches(JSON_SPACE).len()
}

/// A string token: its content's span (between the quotes) and whether it holds escapes.
#[derive(Debug, Clone, Copy)]
struct Str {
    start: usize,
    end: usize,
    escaped: bool,
}

impl Rules<'_> {
    /// A JSON text found in a string value `embedded` strings deep, rewritten if it held a
    /// redacted field.
    pub(super) fn embedded(&mut self, text: &str, cursors: &[Cursor], depth: usize, embedded: usize) -> Result<Option<String>, Fail> {
        let object_or_array = looks_like_json(text);
        if !(object_or_array || text.trim_start_matches(JSON_SPACE).starts_with('"')) || !self.may_hold(text) {
            return Ok(None);
        }
        if embedded > MAX_EMBEDDED {
            return Err(Fail::Refused);
        }
        let before = self.removed.clone();
        match Json::document(text, cursors, self, depth, embedded) {
            // Damaged JSON that may hold a field: no reader can be sure what it holds.
            Err(Fail::Broken) if object_or_array => Err(Fail::Refused),
            // Text that merely starts with a quote is not JSON: a sentence, kept as it is.
            Err(Fail::Broken) => {
                self.removed = before;
                Ok(None)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::testing::{paths, rewritten};
    use crate::redact::{Redacted, redact};

    #[test]
    fn numbers_spacing_and_order_survive_a_rewrite_exactly() {
        let big = "{\n  \"id\": 123456789012345678901234567890,\n  \"lat\": 52.370000,\n  \"t\": 1e400,\n  \"z\" : -0.0\n}";
        let (out, _) = rewritten(big.as_bytes(), &["lat"]);
        assert_eq!(out, "{\n  \"id\": 123456789012345678901234567890,\n  \"t\": 1e400,\n  \"z\" : -0.0\n}");
        // The old rewrite turned the id into 1.2345678901234568e+29 and refused 1e400.
    }

    #[test]
    fn a_removed_member_takes_one_comma_wherever_it_stands() {
        for (payload, expected) in [
            (r#"{"lat":1,"lon":2,"acc":3}"#, r#"{"lon":2,"acc":3}"#),
            (r#"{"lon":2,"lat":1,"acc":3}"#, r#"{"lon":2,"acc":3}"#),
            (r#"{"lon":2,"acc":3,"lat":1}"#, r#"{"lon":2,"acc":3}"#),
            (r#"{"lat":1}"#, r#"{}"#),
            ("{ \"lat\" : 1 , \"lon\" : 2 }", "{ \"lon\" : 2 }"),
            ("{ \"lon\" : 2 , \"lat\" : 1 }", "{ \"lon\" : 2 }"),
            (r#"{"lat":1,"lat":2,"lon":3,"lat":{"x":[1]}}"#, r#"{"lon":3}"#),
            (r#"{"lat":1,"LAT":2}"#, r#"{}"#),
        ] {
            let (out, _) = rewritten(payload.as_bytes(), &["lat"]);
            assert_eq!(out, expected, "from {payload}");
            serde_json::from_str::<serde_json::Value>(&out).expect("still JSON");
        }
    }

    #[test]
    fn a_key_with_a_dot_in_it_matches_its_path_as_the_review_shows_it() {
        let (out, _) = rewritten(br#"{"PMS5003":{"PM1":3,"PM2.5":7}}"#, &["PMS5003.PM2.5"]);
        assert_eq!(out, r#"{"PMS5003":{"PM1":3}}"#);
    }

    #[test]
    fn arrays_on_the_way_are_looked_through_at_any_depth() {
        let (out, _) = rewritten(br#"{"fixes":[[{"lat":1,"id":"a"}],{"lat":2}],"lat":3}"#, &["fixes.lat"]);
        assert_eq!(out, r#"{"fixes":[[{"id":"a"}],{}],"lat":3}"#);
    }

    /// `text` as a JSON string, `times` over.
    fn stringified(text: &str, times: usize) -> String {
        (0..times).fold(text.to_owned(), |s, _| serde_json::to_string(&s).expect("a string"))
    }

    #[test]
    fn json_inside_a_string_value_is_redacted_and_stays_a_string() {
        let (out, removed) = rewritten(br#"{"msg":"{\"lat\":52.37,\"lon\":4.89}","t":1}"#, &["lat"]);
        assert_eq!((out.as_str(), removed), (r#"{"msg":"{\"lon\":4.89}","t":1}"#, vec!["lat".to_owned()]));
        let (out, _) = rewritten(br#"{"msg":"[{\"LAT\":1},{\"lon\":2}]"}"#, &["lat"]);
        assert_eq!(out, r#"{"msg":"[{},{\"lon\":2}]"}"#, "arrays too");
        let (out, _) = rewritten(br#"{"Wifi":"{\"SSId\":\"HomeNet\",\"RSSI\":78}"}"#, &["Wifi.SSId"]);
        assert_eq!(out, r#"{"Wifi":"{\"RSSI\":78}"}"#, "a path goes on into the string on its way");
        let (out, _) = rewritten(stringified(r#"{"lat":1,"lon":2}"#, 1).as_bytes(), &["lat"]);
        assert_eq!(out, stringified(r#"{"lon":2}"#, 1), "the whole payload a string");
        let (out, _) = rewritten(stringified(r#"{"lat":1,"lon":2}"#, 2).as_bytes(), &["lat"]);
        assert_eq!(out, stringified(r#"{"lon":2}"#, 2), "stringified twice");
        // A member that goes takes its strings along, whatever they hold.
        let (out, _) = rewritten(br#"{"lat":"{\"lat\":","lon":2}"#, &["lat"]);
        assert_eq!(out, r#"{"lon":2}"#);
    }

    #[test]
    fn json_inside_strings_is_followed_a_bounded_number_of_strings_deep() {
        let deep = |times: usize| format!(r#"{{"m":{}}}"#, stringified(r#"{"lat":1}"#, times));
        let (out, _) = rewritten(deep(MAX_EMBEDDED).as_bytes(), &["lat"]);
        assert_eq!(out, format!(r#"{{"m":{}}}"#, stringified("{}", MAX_EMBEDDED)));
        assert_eq!(redact(deep(MAX_EMBEDDED + 1).as_bytes(), &paths(&["lat"])), Redacted::Unreadable, "deeper may hold it: refused");
        assert_eq!(redact(deep(MAX_EMBEDDED + 1).as_bytes(), &paths(&["lon"])), Redacted::Untouched, "unless no name is in it");
    }

    #[test]
    fn a_string_holding_damaged_json_with_a_redacted_name_is_refused_and_prose_is_not() {
        assert_eq!(redact(br#"{"msg":"{\"lat\":52.37,"}"#, &paths(&["lat"])), Redacted::Unreadable);
        assert_eq!(redact(br#"{"msg":"{\"lon\":4.89,"}"#, &paths(&["lat"])), Redacted::Untouched, "no lat in it");
        for prose in [r#"{"msg":"\"lat\" is lost"}"#, r#"{"msg":"lat is lost\n"}"#] {
            assert_eq!(redact(prose.as_bytes(), &paths(&["lat"])), Redacted::Untouched, "{prose}");
        }
    }

    #[test]
    fn json_that_is_not_strictly_json_is_refused_when_it_looks_like_json() {
        for broken in [
            r#"{"lat":01}"#,
            r#"{"lat":1,}"#,
            r#"{"lat":"\ud800"}"#,
            "{\"lat\":\"a\tb\"}",
            r#"{"lat":1}{"lat":2}"#,
            r#"{'lat':1}"#,
            r#"{lat:1}"#,
            r#"[1,2"#,
            r#"{"lat":tru}"#,
            r#"{"lat":1.}"#,
        ] {
            assert_eq!(redact(broken.as_bytes(), &paths(&["lat"])), Redacted::Unreadable, "{broken}");
        }
    }

    #[test]
    fn nesting_is_read_as_deep_as_serde_json_reads_it_and_no_deeper() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(redact(nested(MAX_DEPTH).as_bytes(), &paths(&["lat"])), Redacted::Untouched);
        assert!(serde_json::from_str::<serde_json::Value>(&nested(MAX_DEPTH)).is_ok());
        assert!(serde_json::from_str::<serde_json::Value>(&nested(MAX_DEPTH + 1)).is_err());
        assert_eq!(redact(nested(MAX_DEPTH + 1).as_bytes(), &paths(&["lat"])), Redacted::Unreadable);
        assert_eq!(redact(nested(100_000).as_bytes(), &paths(&["lat"])), Redacted::Unreadable, "and costs no stack");
    }
}
