//! Removing the fields a person chose to redact from a device's messages (`lat`, `Wifi.SSId`),
//! before the broker stores or delivers them.
//!
//! The rule: **what may hold a redacted field and cannot be read is refused.** In order:
//! 1. Layers are peeled ([`layer`]): gzip (every member) and zlib, up to [`MAX_LAYERS`] deep
//!    and inflating to at most 4 MiB each (a zip bomb is refused at that size, never inflated
//!    whole); damaged gzip is refused, as is damaged zlib whose start names a field; then the
//!    text encoding, by byte-order mark or by the NULs of UTF-16 and UTF-32 around ASCII.
//! 2. JSON is rewritten structurally ([`json`]): every byte that is not a removed member stays
//!    as it came; names match in any ASCII case at every level and through escapes; JSON in a
//!    string value is redacted too. JSON that is damaged (or nested absurdly deep) while it
//!    looks like JSON is refused.
//! 3. A form body (`lat=52.37&l%61t=1`) is rewritten structurally too: a pair goes when its
//!    decoded name is a path (`Wifi.SSId` or `Wifi[SSId]`), the other pairs stay byte for byte,
//!    and JSON in a value is redacted like JSON in a string.
//! 4. Anything else: a compression format Hearth cannot read (zstd, bzip2, xz, lz4, zip...) is
//!    refused; a whole picture (JPEG, PNG, GIF, WebP) goes untouched, having no named fields;
//!    binary that inflates whole as raw deflate is looked at inflated too;
//!    any other payload is refused if a redacted name (a path's last level) stands in it as a
//!    word in any case, as it came, with NULs removed (UTF-16 without a mark, JSON behind a
//!    leading NUL or other junk) or with `\u` and `%` escapes decoded. Bytes that are not UTF-8
//!    count any occurrence, even inside a longer run: a CBOR key `lat` is written `clat`. Plain
//!    values (`ON`, `21.5`) go untouched.
//!
//! A rewrite is put back into the payload's layers (same encoding, same byte-order mark, then
//! compressed again the same way) so that subscribers read it as before.

mod json;

mod layer;

use json::{Fail, Json, looks_like_json};
use layer::{Compression, Encoding, Format, Inflated};
use std::borrow::Cow;

/// What redaction made of a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redacted {
    /// Nothing to remove: it held none of the fields, or cannot hold one (a plain value, a
    /// picture).
    Untouched,
    /// The new payload, and the paths removed (as the person wrote them).
    Rewritten(Vec<u8>, Vec<String>),
    /// It may hold a redacted field and cannot be read (JSON cut short or nested too deep,
    /// a name in text that is not JSON, a compression Hearth cannot read): it must not go out.
    Unreadable,
}

/// Removes the fields at `paths` (`Wifi.SSId`, `lat`) from a payload, in every element of the
/// arrays on the way (`[{"lat": ...}, ...]`), or refuses it by the rule above.
///
/// Read again (by Hearth on the next hop or from a retained message), a rewrite must be left
/// untouched, and one that would not be is refused here, whatever the reason. The cases found so
/// far are handled where they arise (a form that begins otherwise once its first pairs are gone,
/// an encoding that no longer reads back, a compressed layer over the limit); this net holds for
/// the ones not found yet. It promises only what redaction itself reads: a subscriber that reads
/// bytes some other way is the loose rule's concern. [`redact_unchecked`] is the same without
/// the net, for the fuzz target, so that the net does not hide a bug from it.
pub fn redact(payload: &[u8], paths: &[String]) -> Redacted {
    match redact_unchecked(payload, paths) {
        Redacted::Rewritten(rewritten, _) if redact_unchecked(&rewritten, paths) != Redacted::Untouched => Redacted::Unreadable,
        outcome => outcome,
    }
}

/// [`redact`] without reading the rewrite again.
#[doc(hidden)]
pub fn redact_unchecked(payload: &[u8], paths: &[String]) -> Redacted {
    if paths.is_empty() {
        return Redacted::Untouched;
    }
    let mut rules = Rules::new(paths);
    match rules.payload(payload) {
        Ok(Some(rewritten)) => Redacted::Rewritten(rewritten, rules.removed()),
        Ok(None) => Redacted::Untouched,
        Err(Refused) => Redacted::Unreadable,
    }
}

/// How many compressions deep a payload is read (gzip in gzip...): more is no device's doing.
const MAX_LAYERS: usize = 3;

/// A payload that may hold a redacted field and cannot be read.
#[derive(Debug)]
struct Refused;

/// The paths a person chose, and which of them the payload held.
struct Rules<'p> {
    paths: &'p [String],
    /// The last level of each path: the name a field holding it must have.
    names: Vec<&'p str>,
    removed: Vec<bool>,
}

/// How far matching has come along one path: the rest of `paths[path]` from byte `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    path: usize,
    at: usize,
}

/// What a key means for one path.
enum Step {
    /// The key is the path's last level: the member goes.
    Remove,
    /// The key is the next level: the path goes on inside the member's value.
    Into(Cursor),
    Miss,
}

impl<'p> Rules<'p> {
    fn new(paths: &'p [String]) -> Self {
        let names = paths.iter().map(|p| p.rsplit('.').next().unwrap_or(p)).collect();
        Self { paths, names, removed: vec![false; paths.len()] }
    }

    /// The paths removed, in the order the person has them.
    fn removed(&self) -> Vec<String> {
        self.paths.iter().zip(&self.removed).filter(|(_, r)| **r).map(|(p, _)| p.clone()).collect()
    }

    /// Every path, from its first level: what applies at the top of a document.
    fn starts(&self) -> Vec<Cursor> {
        (0..self.paths.len()).map(|path| Cursor { path, at: 0 }).collect()
    }

    /// Matches one level at a time, but compares the rest of the path as text, so that a key
    /// with a dot in it (`PM2.5`, as the review shows `PMS5003.PM2.5`) matches too.
    fn step(&self, cursor: Cursor, key: &str) -> Step {
        let rest = &self.paths[cursor.path].as_bytes()[cursor.at..];
        let key = key.as_bytes();
        if rest.len() == key.len() && rest.eq_ignore_ascii_case(key) {
            Step::Remove
        } else if rest.len() > key.len() && rest[key.len()] == b'.' && rest[..key.len()].eq_ignore_ascii_case(key) {
            Step::Into(Cursor { path: cursor.path, at: cursor.at + key.len() + 1 })
        } else {
            Step::Miss
        }
    }

    /// Whether a text may hold a redacted field: one of the names is in it in some case, or an
    /// escape that could spell one.
    pub(super) fn may_hold(&self, text: &str) -> bool {
        text.contains('\\') || self.names.iter().any(|name| contains_ignoring_case(text.as_bytes(), name.as_bytes()))
    }

    /// The payload, rewritten if it held a redacted field.
    fn payload(&mut self, payload: &[u8]) -> Result<Option<Vec<u8>>, Refused> {
        let mut compressions: Vec<Compression> = Vec::new();
        let mut bytes = Cow::Borrowed(payload);
        loop {
            match layer::inflate(&bytes) {
                Inflated::No => break,
                Inflated::Whole { compression, content, header } => {
                    // A gzip header's file name and comment are text that a reader may show.
                    self.loose(&header)?;
                    if compressions.len() == MAX_LAYERS {
                        return Err(Refused);
                    }
                    compressions.push(compression);
                    bytes = Cow::Owned(content);
                }
                Inflated::TooBig | Inflated::Damaged { compression: Compression::Gzip, .. } => return Err(Refused),
                // Two bytes can begin text and zlib alike (`x^`): damaged zlib is refused only
                // when what inflated before the damage names a field, and read as it came else.
                Inflated::Damaged { compression: Compression::Zlib, partial } => {
                    self.loose(&partial)?;
                    break;
                }
            }
        }
        let Some(mut rewritten) = self.plain(&bytes)? else { return Ok(None) };
        // Read again, a rewrite is first looked at for compression, as what it came from was: a
        // text that happens to begin like zlib (`(S`, `x^`) is read through what it inflates to
        // before it breaks, which changes with every byte after the start. So the rewrite is
        // read that way now, before it goes (found by the redact fuzz target; the input is a seed).
        match layer::inflate(&rewritten) {
            Inflated::No => {}
            Inflated::Damaged { compression: Compression::Zlib, partial } => self.loose(&partial)?,
            Inflated::Whole { .. } | Inflated::Damaged { .. } | Inflated::TooBig => return Err(Refused),
        }
        for compression in compressions.iter().rev() {
            // A rewrite can be longer than what it came from (JSON in a form value goes back
            // percent-encoded), and read again, a layer that inflates beyond the limit is
            // refused: so it is now, rather than on the next hop.
            if rewritten.len() > layer::MAX_INFLATED {
                return Err(Refused);
            }
            rewritten = compression.compress(&rewritten).map_err(|_| Refused)?;
        }
        Ok(Some(rewritten))
    }

    /// A payload without compression, rewritten if it held a redacted field.
    fn plain(&mut self, payload: &[u8]) -> Result<Option<Vec<u8>>, Refused> {
        match layer::format(payload) {
            Some(Format::Sealed) => return Err(Refused),
            Some(Format::Picture) => return Ok(None),
            None => {}
        }
        let Some((encoding, text)) = Encoding::read(payload) else {
            if let Some(inflated) = layer::inflate_raw(payload) {
                self.loose(&inflated)?;
            }
            self.loose(payload)?;
            return Ok(None);
        };
        match self.text(&text)? {
            Read::Rewritten(rewritten) => {
                let written = encoding.write(&rewritten);
                // Read again (the next hop, a retained message) a rewrite must be read as this
                // one was. Without a byte-order mark UTF-16 and UTF-32 are told by the NULs
                // around their first character, which a form that lost its first pairs may no
                // longer begin with (`lat=1&€x=2` as UTF-16 becomes `€x=2`, bytes `AC 20 ...`).
                if Encoding::read(&written).map(|(e, _)| e) != Some(encoding) {
                    return Err(Refused);
                }
                // And as bytes, as loose text in these encodings is: a form's kept value may be
                // characters whose bytes spell a name (`\x92lat\n`), which read as a form while
                // its first pair named the field, and as loose bytes once that pair is gone.
                if !matches!(encoding, Encoding::Utf8 { .. }) {
                    self.loose(&written)?;
                }
                Ok(Some(written))
            }
            Read::Kept => Ok(None),
            Read::Loose => {
                // Also as it came: a reader that takes UTF-16 for ASCII between NULs sees that.
                if !matches!(encoding, Encoding::Utf8 { .. }) {
                    self.loose(payload)?;
                }
                Ok(None)
            }
        }
    }

    /// A payload's text, but for the NULs that end a C string (firmware sends them along):
    /// they stay as they came.
    fn text(&mut self, text: &str) -> Result<Read, Refused> {
        let body = text.trim_end_matches('\0');
        Ok(match self.body(body)? {
            Read::Rewritten(rewritten) => Read::Rewritten(rewritten + &text[body.len()..]),
            other => other,
        })
    }

    /// A payload's text: JSON, a form, or anything else.
    fn body(&mut self, text: &str) -> Result<Read, Refused> {
        let object_or_array = looks_like_json(text);
        // Escapes a lenient reader decodes may spell a name; so may a name cut by NULs.
        let spaced_name = self.names.iter().any(|n| n.contains(' '));
        let may_hold = self.may_hold(text) || text.contains('%') || text.contains('\0') || (spaced_name && text.contains('+'));
        if !object_or_array && !may_hold {
            return Ok(Read::Loose);
        }
        // Without a name in it, JSON is only checked for being JSON.
        let cursors = if may_hold { self.starts() } else { Vec::new() };
        let before = self.removed.clone();
        match Json::document(text, &cursors, self, 0, 0) {
            Ok(Some(rewritten)) => return Ok(Read::Rewritten(rewritten)),
            Ok(None) => return Ok(Read::Kept),
            Err(Fail::Broken) if !object_or_array => self.removed = before,
            Err(_) => return Err(Refused),
        }
        if is_form(text) {
            return self.form(text);
        }
        self.loose(text.as_bytes())?;
        Ok(Read::Loose)
    }

    /// A form body without the pairs that are redacted fields.
    fn form(&mut self, text: &str) -> Result<Read, Refused> {
        let starts = self.starts();
        let mut kept: Vec<Cow<'_, str>> = Vec::new();
        let (mut changed, mut start_changed) = (false, false);
        for pair in text.split('&') {
            let raw_name = pair.split('=').next().unwrap_or(pair);
            let Some((name, value)) = form_urlencoded::parse(pair.as_bytes()).next() else {
                kept.push(Cow::Borrowed(pair));
                continue;
            };
            // `Wifi[SSId]`, as PHP and Rails write nesting, is the path `Wifi.SSId`.
            let name = name.replace("[]", "").replace("][", ".").replace('[', ".").replace(']', "");
            let (mut remove, mut inner) = (false, starts.clone());
            for cursor in &starts {
                match self.step(*cursor, &name) {
                    Step::Remove => {
                        remove = true;
                        self.removed[cursor.path] = true;
                    }
                    Step::Into(next) => inner.push(next),
                    Step::Miss => {}
                }
            }
            if remove {
                changed = true;
                start_changed |= kept.is_empty();
            } else if let Some(rewritten) = self.embedded(&value, &inner, 0, 1).map_err(|_| Refused)? {
                changed = true;
                kept.push(Cow::Owned(format!("{raw_name}={}", form_urlencoded::byte_serialize(rewritten.as_bytes()).collect::<String>())));
            } else {
                kept.push(Cow::Borrowed(pair));
            }
        }
        if !changed {
            return Ok(Read::Kept);
        }
        let rewritten = kept.join("&");
        if start_changed && begins_otherwise(&rewritten) {
            return Err(Refused);
        }
        Ok(Read::Rewritten(rewritten))
    }

    /// Refuses what is neither JSON nor a picture if a redacted name is in it (see the rule).
    fn loose(&self, bytes: &[u8]) -> Result<(), Refused> {
        let names = || self.names.iter().filter(|n| !n.is_empty()).map(|n| n.as_bytes());
        let stripped: Cow<'_, [u8]> =
            if bytes.contains(&0) { Cow::Owned(bytes.iter().copied().filter(|b| *b != 0).collect()) } else { Cow::Borrowed(bytes) };
        let text = std::str::from_utf8(&stripped).is_ok();
        let holds = |view: &[u8]| names().any(|name| if text { contains_word(view, name) } else { contains_ignoring_case(view, name) });
        let escaped = stripped.iter().any(|b| matches!(b, b'\\' | b'%' | b'+'));
        if holds(bytes) || holds(&stripped) || (escaped && holds(&unescaped(&stripped))) { Err(Refused) } else { Ok(()) }
    }
}

/// Whether a form that lost its first pairs now begins like something read before a form is: a
/// byte-order mark (`lat=1&\u{FEFF}lat=2` would become `lat=2` to a reader that drops the mark),
/// JSON (`lat=1&{"a"=2` would be damaged JSON), compression or a format of its own (`BZh9`).
/// Read again (the next hop, a retained message, a subscriber that sniffs) it would not be this
/// form, so it is refused rather than sent.
fn begins_otherwise(text: &str) -> bool {
    text.starts_with('\u{FEFF}')
        || looks_like_json(text)
        || !matches!(layer::inflate(text.as_bytes()), Inflated::No)
        || layer::format(text.as_bytes()).is_some()
}

/// Whether a text is a form body (`lat=52.37&lon=4.89`): pairs joined by `&`, each a name, `=`
/// and a value, without spaces or controls. Nor `;`, which some readers split pairs on too: such
/// a text is left to the loose rule.
fn is_form(text: &str) -> bool {
    text.split('&').all(|pair| pair.find('=').is_some_and(|i| i > 0))
        && !text.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b';')
}

/// What a payload's text turned out to be.
enum Read {
    /// JSON or a form that held a redacted field, without it.
    Rewritten(String),
    /// JSON or a form without a redacted field.
    Kept,
    /// Something else, without a redacted name in it.
    Loose,
}

/// `bytes` with JSON's `\uXXXX` and a URL's `%XX` and `+` escapes decoded, for looking for names
/// that a lenient reader would find.
fn unescaped(bytes: &[u8]) -> Vec<u8> {
    let hex = |digits: Option<&[u8]>| digits.and_then(|d| std::str::from_utf8(d).ok()).and_then(|d| u32::from_str_radix(d, 16).ok());
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' if bytes.get(i + 1) == Some(&b'u') => {
                if let Some(c) = hex(bytes.get(i + 2..i + 6)).and_then(char::from_u32) {
                    out.extend(c.encode_utf8(&mut [0; 4]).as_bytes());
                    i += 6;
                    continue;
                }
            }
            b'%' => {
                if let Some(byte) = hex(bytes.get(i + 1..i + 3)).and_then(|n| u8::try_from(n).ok()) {
                    out.push(byte);
                    i += 3;
                    continue;
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
                continue;
            }
            _ => {}
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Whether `word` stands in `text` on its own, ASCII letters in any case: not inside a longer
/// word (`plate` does not hold `lat`), `_` counting as a letter as it does in field names.
fn contains_word(text: &[u8], word: &[u8]) -> bool {
    let letter = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let (Some(&first), Some(&last)) = (word.first(), word.last()) else { return false };
    let n = word.len();
    text.len() >= n
        && (0..=text.len() - n).any(|i| {
            text[i..i + n].eq_ignore_ascii_case(word)
                && (i == 0 || !letter(first) || !letter(text[i - 1]))
                && (i + n == text.len() || !letter(last) || !letter(text[i + n]))
        })
}

/// Whether `needle` is in `haystack`, ASCII letters in any case. Skips to each byte that can
/// begin it (the fast path of every message that names no field runs through here).
fn contains_ignoring_case(haystack: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else { return true };
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let Some(last_start) = haystack.len().checked_sub(needle.len()) else { return false };
    let mut from = 0;
    while let Some(offset) = haystack[from..=last_start].iter().position(|&b| b == lower || b == upper) {
        let at = from + offset;
        if haystack[at..at + needle.len()].eq_ignore_ascii_case(needle) {
            return true;
        }
        from = at + 1;
        if from > last_start {
            break;
        }
    }
    false
}

/// Shared by the tests of redaction's files.
#[cfg(test)]
mod testing {
    use super::{Redacted, redact};

    pub(crate) fn paths(list: &[&str]) -> Vec<String> {
        list.iter().map(|p| (*p).to_owned()).collect()
    }

    /// The rewritten payload, and the paths removed; panics on any other outcome.
    pub(crate) fn rewritten_bytes(payload: &[u8], list: &[&str]) -> (Vec<u8>, Vec<String>) {
        match redact(payload, &paths(list)) {
            Redacted::Rewritten(out, removed) => (out, removed),
            other => panic!("{:?} was not rewritten but {other:?}", String::from_utf8_lossy(payload)),
        }
    }

    /// The same, the payload as text.
    pub(crate) fn rewritten(payload: &[u8], list: &[&str]) -> (String, Vec<String>) {
        let (out, removed) = rewritten_bytes(payload, list);
        (String::from_utf8_lossy(&out).into_owned(), removed)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{paths, rewritten, rewritten_bytes};
    use super::*;

    const OWNTRACKS: &str =
        r#"{"_type":"location","acc":10,"alt":5,"batt":80,"lat":52.3702,"lon":4.8952,"tid":"ph","tst":1714567890,"vel":0}"#;
    const OWNTRACKS_WITHOUT_LAT: &str =
        r#"{"_type":"location","acc":10,"alt":5,"batt":80,"lon":4.8952,"tid":"ph","tst":1714567890,"vel":0}"#;

    fn outcome(payload: &[u8], list: &[&str]) -> Redacted {
        redact(payload, &paths(list))
    }

    #[test]
    fn a_form_that_begins_like_zlib_is_read_through_what_it_inflates_to_as_its_rewrite_will_be() {
        // `(S` is a valid zlib header: the text is read through what inflates before it breaks,
        // and the rewrite, whose later bytes differ, must be too (here the path is NUL, so that
        // any inflated NUL holds it; a harness input, but the rule is any name's).
        let payload = b"(S{?t=3&d=\0\0\0\0\0\0\0";
        assert!(!matches!(layer::inflate(payload), Inflated::No));
        let paths = paths(&["\0", "d"]);
        match redact_unchecked(payload, &paths) {
            Redacted::Rewritten(out, _) => assert_eq!(redact_unchecked(&out, &paths), Redacted::Untouched),
            other => assert_eq!(other, Redacted::Unreadable),
        }
    }

    #[test]
    fn a_rewrite_that_would_not_read_back_untouched_is_refused() {
        // A UTF-16 form: `lat=1&at=` and then characters whose bytes spell `lat` between others
        // (`\x92lat\n`). Read as a form, `lat=1` goes; the rest, `at=...`, no longer names a
        // field as text, so read again it is loose bytes, in which `lat` is a word. A rewrite in
        // UTF-16 or UTF-32 is read as bytes too, as loose text in them is. Found by the redact
        // fuzz target; the input is a seed.
        let mut payload: Vec<u8> = "lat=1&at=".encode_utf16().flat_map(u16::to_le_bytes).collect();
        payload.extend_from_slice(b"\xF0\x31\x00\x26\x00\xAC\x20\x92\x92lat\n\x92");
        assert_eq!(redact_unchecked(&payload, &paths(&["lat"])), Redacted::Unreadable);
        assert_eq!(outcome(&payload, &["lat"]), Redacted::Unreadable);
        // The same form with characters that spell nothing is rewritten, and reads back untouched.
        let plain: Vec<u8> = "lat=1&at=2".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let (out, removed) = rewritten_bytes(&plain, &["lat"]);
        assert_eq!(out, "at=2".encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>());
        assert_eq!(removed, ["lat"]);
    }

    #[test]
    fn a_location_in_utf16_or_utf32_loses_its_lat_and_keeps_its_encoding_and_mark() {
        for encoding in Encoding::ALL {
            let (out, removed) = rewritten_bytes(&encoding.write(OWNTRACKS), &["lat"]);
            assert_eq!(out, encoding.write(OWNTRACKS_WITHOUT_LAT), "{encoding:?}");
            assert_eq!(removed, ["lat"]);
            assert_eq!(outcome(&encoding.write(OWNTRACKS), &["Wifi.SSId"]), Redacted::Untouched, "{encoding:?}");
        }
    }

    #[test]
    fn json_behind_a_nul_or_other_junk_is_refused_when_a_name_is_in_it() {
        for junk in [&b"\x00"[..], b"\x00\x00", b"xx", b"\x01\x02 ", b"OK ", b"\xC3\x28"] {
            let payload = [junk, br#"{"LAT":52.37,"lon":4.89}"#].concat();
            assert_eq!(outcome(&payload, &["lat"]), Redacted::Unreadable, "{payload:?}");
            let payload = [junk, br#"{"l\u0061t":52.37}"#].concat();
            assert_eq!(outcome(&payload, &["lat"]), Redacted::Unreadable, "escaped: {payload:?}");
            let payload = [junk, br#"{"lon":4.89}"#].concat();
            assert_eq!(outcome(&payload, &["lat"]), Redacted::Untouched, "{payload:?}");
        }
        let cut_utf16 = &Encoding::Utf16 { big_endian: false, bom: false }.write(OWNTRACKS)[..41];
        assert_eq!(outcome(cut_utf16, &["lat"]), Redacted::Unreadable, "UTF-16 cut at an odd byte");
    }

    /// Found by thinking through the redact fuzz target's invariant (a rewrite read back is left
    /// untouched) for text encodings: UTF-16 without a mark is told by its NULs, and a form that
    /// lost its first pair may begin with a character that has none.
    #[test]
    fn a_rewrite_that_would_not_read_back_in_its_own_encoding_is_refused() {
        for encoding in [Encoding::Utf16 { big_endian: false, bom: false }, Encoding::Utf16 { big_endian: true, bom: false }] {
            assert_eq!(outcome(&encoding.write("lat=1&€x=2"), &["lat"]), Redacted::Unreadable, "{encoding:?}");
            let (out, _) = rewritten_bytes(&encoding.write("lat=1&x=€"), &["lat"]);
            assert_eq!(out, encoding.write("x=€"), "{encoding:?}");
        }
        let (out, _) = rewritten_bytes(&Encoding::Utf16 { big_endian: false, bom: true }.write("lat=1&€x=2"), &["lat"]);
        assert_eq!(out, Encoding::Utf16 { big_endian: false, bom: true }.write("€x=2"), "with a mark it reads back");
    }

    /// Found by working the redact fuzz target's invariant through compression: a gzip of 1.5 KB
    /// whose form value's JSON is written back percent-encoded inflated to 4.5 MB, over the limit
    /// at which redaction refuses what it reads.
    #[test]
    fn a_compressed_rewrite_that_would_inflate_beyond_the_limit_is_refused() {
        let body = |n: usize| [&br#"lat=1&a={"lat":1,"b":""#[..], &vec![b'!'; n], br#""}"#].concat();
        assert_eq!(outcome(&gzip(&body(1_500_000)), &["lat"]), Redacted::Unreadable);
        let (out, _) = rewritten_bytes(&gzip(&body(1_000)), &["lat"]);
        assert!(inflated(&out).starts_with(b"a=%7B%22b%22%3A%22%21"), "a small one is rewritten");
    }

    #[test]
    fn a_c_string_keeps_its_closing_nul_and_loses_its_field() {
        let (out, _) = rewritten_bytes(b"{\"lat\":52.37,\"lon\":4.89}\x00", &["lat"]);
        assert_eq!(out, b"{\"lon\":4.89}\x00");
        assert_eq!(outcome(b"{\"lon\":4.89}\x00\x00", &["lat"]), Redacted::Untouched);
        assert_eq!(outcome(b"{\"lon\":4.89}\x00{\"lat\":1}", &["lat"]), Redacted::Unreadable, "a NUL in the middle ends nothing");
    }

    #[test]
    fn cbor_and_messagepack_keys_are_found_even_glued_to_their_length() {
        // {"lat": 52.37, "lon": 4.89} in CBOR: text string "lat" is the byte `c` then `lat`.
        let cbor = b"\xA2\x63lat\xFB\x40\x4A\x2F\x5C\x28\xF5\xC2\x8F\x63lon\xFB\x40\x13\x8F\x5C\x28\xF5\xC2\x8F";
        assert_eq!(outcome(cbor, &["lat"]), Redacted::Unreadable);
        assert_eq!(outcome(cbor, &["LAT"]), Redacted::Unreadable);
        assert_eq!(outcome(cbor, &["Wifi.SSId"]), Redacted::Untouched);
        let msgpack = b"\x82\xA3lat\xCB\x40\x4A\x2F\x5C\x28\xF5\xC2\x8F\xA3lon\xCB\x40\x13\x8F\x5C\x28\xF5\xC2\x8F";
        assert_eq!(outcome(msgpack, &["lat"]), Redacted::Unreadable);
        assert_eq!(outcome(b"\xA1\x63l\x00a\x00t\x01", &["lat"]), Redacted::Unreadable, "NULs in between");
    }

    #[test]
    fn plain_text_goes_untouched_unless_a_redacted_name_stands_in_it() {
        for plain in ["ON", "21.5", "Online", "plate AB-123", "latitude 52.37", "gps_lat=", "", " "] {
            assert_eq!(outcome(plain.as_bytes(), &["lat"]), Redacted::Untouched, "{plain}");
        }
        for named in ["lat 52.37", "LAT: 52.37", "pos(lat): 52", "<lat>52.37</lat>", "l%61t: 52", "lat"] {
            assert_eq!(outcome(named.as_bytes(), &["lat"]), Redacted::Unreadable, "{named}");
        }
        assert_eq!(outcome(b"SSId: HomeNet", &["Wifi.SSId"]), Redacted::Unreadable, "a path's last level is its name");
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        Compression::Gzip.compress(bytes).expect("compressed")
    }

    fn inflated(bytes: &[u8]) -> Vec<u8> {
        match layer::inflate(bytes) {
            Inflated::Whole { content, .. } => content,
            other => panic!("not inflated: {other:?}"),
        }
    }

    #[test]
    fn a_gzip_or_zlib_location_loses_its_lat_and_goes_out_compressed_the_same_way() {
        let (out, removed) = rewritten_bytes(&gzip(OWNTRACKS.as_bytes()), &["lat"]);
        assert!(out.starts_with(b"\x1F\x8B\x08"), "still gzip");
        assert_eq!((inflated(&out), removed), (OWNTRACKS_WITHOUT_LAT.as_bytes().to_vec(), vec!["lat".to_owned()]));
        let zlib = Compression::Zlib.compress(OWNTRACKS.as_bytes()).expect("compressed");
        let (out, _) = rewritten_bytes(&zlib, &["lat"]);
        assert!(
            matches!(layer::inflate(&out), Inflated::Whole { compression: Compression::Zlib, content, .. } if content == OWNTRACKS_WITHOUT_LAT.as_bytes())
        );
        let utf16 = Encoding::Utf16 { big_endian: false, bom: true };
        let (out, _) = rewritten_bytes(&gzip(&gzip(&utf16.write(OWNTRACKS))), &["lat"]);
        assert_eq!(inflated(&inflated(&out)), utf16.write(OWNTRACKS_WITHOUT_LAT), "gzip in gzip of UTF-16: every layer put back");
        assert_eq!(outcome(&gzip(OWNTRACKS.as_bytes()), &["Wifi.SSId"]), Redacted::Untouched, "nothing to remove: as it came");
        let second_member = [gzip(br#"{"lon":4.89}"#), gzip(br#"{"lat":52.37}"#)].concat();
        assert_eq!(outcome(&second_member, &["lat"]), Redacted::Unreadable, "two JSON texts: not JSON, and lat in it");
    }

    #[test]
    fn damaged_gzip_a_gzip_comment_naming_a_field_and_zip_bombs_are_refused() {
        let cut = &gzip(OWNTRACKS.as_bytes())[..30];
        assert_eq!(outcome(cut, &["lat"]), Redacted::Unreadable);
        assert_eq!(outcome(&[&gzip(b"{}")[..], b"\x00"].concat(), &["lat"]), Redacted::Unreadable, "a byte after the member");
        let mut commented = flate2::GzBuilder::new().comment("lat=52.37").write(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut commented, br#"{"lon":4.89}"#).expect("written");
        assert_eq!(outcome(&commented.finish().expect("compressed"), &["lat"]), Redacted::Unreadable);
        // 5 MiB of spaces around `{}`: valid JSON that inflates past the bound from 5 KB.
        let bomb = gzip(&[b"{}".as_slice(), &vec![b' '; 5 << 20]].concat());
        assert!(bomb.len() < 10_000);
        assert_eq!(outcome(&bomb, &["lat"]), Redacted::Unreadable);
        assert_eq!(outcome(&gzip(&bomb), &["lat"]), Redacted::Unreadable, "inside another gzip too");
        let nested = (0..=MAX_LAYERS).fold(b"{}".to_vec(), |bytes, _| gzip(&bytes));
        assert_eq!(outcome(&nested, &["lat"]), Redacted::Unreadable, "gzip in gzip beyond the bound");
    }

    #[test]
    fn text_that_begins_like_zlib_is_read_as_text() {
        assert_eq!(outcome(b"x^2 + 1", &["lat"]), Redacted::Untouched);
        assert_eq!(outcome(b"x^2 lat", &["lat"]), Redacted::Unreadable);
    }

    #[test]
    fn raw_deflate_naming_a_field_is_refused() {
        let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut deflate, OWNTRACKS.as_bytes()).expect("written");
        let raw = deflate.finish().expect("compressed");
        assert_eq!(outcome(&raw, &["lat"]), Redacted::Unreadable);
        assert_eq!(outcome(&raw, &["Wifi.SSId"]), Redacted::Untouched);
    }

    #[test]
    fn a_form_body_loses_its_redacted_pairs_and_keeps_the_others_byte_for_byte() {
        for (form, expected) in [
            ("lat=52.37&lon=4.89", "lon=4.89"),
            ("lon=4.89&lat=52.37", "lon=4.89"),
            ("lon=4.89&l%61t=52.37&acc=10", "lon=4.89&acc=10"),
            ("LAT=1&Lat=2&lon=3&lat=", "lon=3"),
            ("lat=1&room=K%C3%BCche+1&x=%2B", "room=K%C3%BCche+1&x=%2B"),
            ("lat=52.37", ""),
        ] {
            let (out, removed) = rewritten(form.as_bytes(), &["lat"]);
            assert_eq!((out.as_str(), removed), (expected, vec!["lat".to_owned()]), "from {form}");
        }
        for nested in ["Wifi.SSId=HomeNet&RSSI=78", "Wifi[SSId]=HomeNet&RSSI=78", "wifi%5Bssid%5D=HomeNet&RSSI=78"] {
            assert_eq!(rewritten(nested.as_bytes(), &["Wifi.SSId"]).0, "RSSI=78", "{nested}");
        }
        assert_eq!(outcome(b"lon=4.89&acc=10", &["lat"]), Redacted::Untouched);
        assert_eq!(outcome(b"plate=AB-123&msg=lat+fix+lost", &["lat"]), Redacted::Untouched, "values are no names");
        let (out, _) = rewritten_bytes(&gzip(b"lat=52.37&lon=4.89"), &["lat"]);
        assert_eq!(inflated(&out), b"lon=4.89", "under gzip too");
    }

    #[test]
    fn json_in_a_form_value_is_redacted_and_what_is_not_quite_a_form_is_refused() {
        let (out, _) = rewritten(b"t=1&data=%7B%22lat%22%3A52.37%2C%22lon%22%3A4.89%7D", &["lat"]);
        assert_eq!(out, "t=1&data=%7B%22lon%22%3A4.89%7D");
        let (out, _) = rewritten(br#"data={"Wifi":{"SSId":"HomeNet","RSSI":78}}"#, &["Wifi.SSId"]);
        assert_eq!(out, "data=%7B%22Wifi%22%3A%7B%22RSSI%22%3A78%7D%7D");
        let (out, _) = rewritten(br#"Wifi={"SSId":"HomeNet"}"#, &["Wifi.SSId"]);
        assert_eq!(out, "Wifi=%7B%7D", "a path goes on into the value");
        for loose in ["a=1;lat=2", "a=1&lat", "lat =1", "a=1&&lat=2"] {
            assert_eq!(outcome(loose.as_bytes(), &["lat"]), Redacted::Unreadable, "{loose}");
        }
    }

    /// Found by the redact fuzz target: a rewrite must read back as itself, with nothing left to
    /// remove, not as damaged JSON.
    #[test]
    fn a_form_that_would_begin_like_json_without_its_first_pair_is_refused() {
        for form in [r#"lat=52.37&{"a"=1"#, "lat=1&[x]=2", "lat=1&LAT=2&{=3"] {
            assert_eq!(outcome(form.as_bytes(), &["lat"]), Redacted::Unreadable, "{form}");
        }
        assert_eq!(rewritten(b"lat=1&a={}", &["lat"]).0, "a={}", "JSON in a later value is no JSON look");
    }

    /// Found by the redact fuzz target: a form whose second pair begins with a byte-order mark
    /// lost its first pair and went out as `\u{FEFF}lat=2`, which a reader that drops the mark (as
    /// redaction itself does) reads as the redacted `lat`. Nor may it begin like a format.
    #[test]
    fn a_form_that_would_begin_with_a_byte_order_mark_or_a_magic_is_refused() {
        for form in ["lat=1&\u{FEFF}lat=2", "lat=1&\u{FEFF}a=2", "lat=1&BZh91AY=1", "lat=1&x^=1"] {
            assert_eq!(outcome(form.as_bytes(), &["lat"]), Redacted::Unreadable, "{form:?}");
        }
        // Kept where the form's start stays as it came.
        assert_eq!(rewritten("a=1&lat=2&\u{FEFF}b=3".as_bytes(), &["lat"]).0, "a=1&\u{FEFF}b=3");
    }

    #[test]
    fn compression_hearth_cannot_read_is_refused_and_whole_pictures_go_untouched() {
        for sealed in [&b"\x28\xB5\x2F\xFD\x20\x09\x49\x00"[..], b"BZh91AY&SY", b"\xFD7zXZ\x00\x00", b"\x04\x22\x4D\x18\x64\x40"] {
            assert_eq!(outcome(sealed, &["lat"]), Redacted::Unreadable, "{sealed:?}");
        }
        // A camera snapshot may hold `lat` by chance among its bytes: it has no fields.
        let jpeg = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 ..lat.. \xFF\xD9";
        assert_eq!(outcome(jpeg, &["lat"]), Redacted::Untouched);
        let smuggled = [&jpeg[..], br#"{"lat":52.37}"#].concat();
        assert_eq!(outcome(&smuggled, &["lat"]), Redacted::Unreadable, "not a picture once text follows its end");
    }

    const TASMOTA_STATE: &str = r#"{"Time":"2024-05-01T12:00:00","Uptime":"0T01:00:00","UptimeSec":3600,"Heap":25,"SleepMode":"Dynamic","Sleep":50,"LoadAvg":19,"MqttCount":1,"POWER":"ON","Wifi":{"AP":1,"SSId":"HomeNet","BSSId":"AA:BB:CC:DD:EE:FF","Channel":6,"Mode":"11n","RSSI":78,"Signal":-61,"LinkCount":1,"Downtime":"0T00:00:03"}}"#;

    #[test]
    fn a_tasmota_state_loses_its_ssid_and_keeps_every_other_byte() {
        let (out, removed) = rewritten(TASMOTA_STATE.as_bytes(), &["Wifi.SSId"]);
        assert_eq!(out, TASMOTA_STATE.replace(r#""SSId":"HomeNet","#, ""));
        assert_eq!(removed, ["Wifi.SSId"]);
    }

    #[test]
    fn real_payloads_lose_exactly_the_chosen_fields() {
        let shelly = r#"{"id":0,"output":false,"apower":47.11,"voltage":232.0,"current":0.0,"pf":0,"aenergy":{"total":5.125,"by_minute":[0.0,0.0,0.0],"minute_ts":1714567890},"temperature":{"tC":25.3,"tF":77.5}}"#;
        let (out, _) = rewritten(shelly.as_bytes(), &["aenergy.by_minute", "apower"]);
        assert_eq!(
            out,
            r#"{"id":0,"output":false,"voltage":232.0,"current":0.0,"pf":0,"aenergy":{"total":5.125,"minute_ts":1714567890},"temperature":{"tC":25.3,"tF":77.5}}"#
        );
        let aqara = r#"{"battery":100,"contact":false,"device_temperature":26,"linkquality":153,"power_outage_count":6889,"voltage":3035}"#;
        let (out, _) = rewritten(aqara.as_bytes(), &["contact"]);
        assert_eq!(out, r#"{"battery":100,"device_temperature":26,"linkquality":153,"power_outage_count":6889,"voltage":3035}"#);
        let (out, removed) = rewritten(OWNTRACKS.as_bytes(), &["lat", "lon", "Wifi.SSId"]);
        assert_eq!(out, r#"{"_type":"location","acc":10,"alt":5,"batt":80,"tid":"ph","tst":1714567890,"vel":0}"#);
        assert_eq!(removed, ["lat", "lon"], "the paths it held, in the person's order");
    }

    #[test]
    fn field_names_match_in_any_case_at_every_level_and_through_escapes() {
        let (out, removed) = rewritten(br#"{"LAT":52.37,"Lat":1,"lon":4.89}"#, &["lat"]);
        assert_eq!((out.as_str(), removed), (r#"{"lon":4.89}"#, vec!["lat".to_owned()]));
        let (_, removed) = rewritten(br#"{"lat":1,"wifi":{"ssid":"HomeNet"}}"#, &["WIFI.SSID", "Lat"]);
        assert_eq!(removed, ["WIFI.SSID", "Lat"], "as the person wrote them");
        let (out, _) = rewritten(br#"{"WIFI":{"ssid":"HomeNet","RSSI":78}}"#, &["Wifi.SSId"]);
        assert_eq!(out, r#"{"WIFI":{"RSSI":78}}"#);
        let (out, _) = rewritten(br#"{"l\u0061t":52.37,"lon":4.89}"#, &["lat"]);
        assert_eq!(out, r#"{"lon":4.89}"#);
        let (out, _) = rewritten(br#"{"\u0057ifi":{"SS\u0049d":"HomeNet"}}"#, &["Wifi.SSId"]);
        assert_eq!(out, r#"{"\u0057ifi":{}}"#);
    }

    /// A Tasmota STATE of about 1 KB (its STATE, ENERGY and a sensor in one message).
    fn tasmota_1kb() -> String {
        let state = TASMOTA_STATE.trim_end_matches('}');
        let energy = r#""ENERGY":{"TotalStartTime":"2024-01-01T00:00:00","Total":123.456,"Yesterday":1.234,"Today":0.567,"Period":2,"Power":47,"ApparentPower":52,"ReactivePower":21,"Factor":0.91,"Voltage":232,"Current":0.224}"#;
        let sensors = r#""BME280":{"Temperature":21.5,"Humidity":44.7,"DewPoint":8.9,"Pressure":1013.2},"DS18B20":{"Id":"0316A279B7FF","Temperature":20.9},"PMS5003":{"CF1":3,"CF2.5":5,"CF10":6,"PM1":3,"PM2.5":5,"PM10":6,"PB0.3":606,"PB0.5":178,"PB1":30,"PB2.5":2,"PB5":0,"PB10":0},"TempUnit":"C","PressureUnit":"hPa""#;
        format!(
            "{state}}},{energy},{sensors},\"ANALOG\":{{\"A0\":512,\"Temperature1\":21.3,\"Illuminance2\":144,\"Range3\":12}},\"Switch1\":\"ON\",\"Switch2\":\"OFF\",\"Hostname\":\"tasmota-1A2B3C-2876\",\"Berry\":{{\"HeapUsed\":3,\"Objects\":44}}}}"
        )
    }

    #[test]
    #[ignore = "a measurement, not a check: cargo test -p hearth-core cost_of -- --ignored --nocapture"]
    fn cost_of_redacting_a_1kb_tasmota_state() {
        let state = tasmota_1kb();
        assert!((900..1200).contains(&state.len()), "{} bytes", state.len());
        let old = |payload: &[u8], paths: &[String]| {
            // What redact did before: parse into serde_json::Value, remove, serialise.
            let mut value: serde_json::Value = serde_json::from_slice(payload).expect("JSON");
            let removed = paths.iter().any(|p| {
                value.get_mut("Wifi").and_then(|w| w.as_object_mut()).is_some_and(|w| w.remove(p.rsplit('.').next().unwrap_or(p)).is_some())
            });
            removed.then(|| serde_json::to_vec(&value).expect("serialised"))
        };
        let gzipped = gzip(state.as_bytes());
        let utf16 = Encoding::Utf16 { big_endian: false, bom: true }.write(&state);
        let time = |what: &str, runs: u32, f: &dyn Fn() -> bool| {
            let start = std::time::Instant::now();
            for _ in 0..runs {
                assert!(std::hint::black_box(f()));
            }
            println!("{what:<62} {:>9.2} µs", start.elapsed().as_secs_f64() * 1e6 / f64::from(runs));
        };
        let ssid = paths(&["Wifi.SSId"]);
        let lat = paths(&["lat"]);
        let rewritten = |p: &[u8], paths: &[String]| matches!(redact(p, paths), Redacted::Rewritten(..));
        let untouched = |p: &[u8], paths: &[String]| redact(p, paths) == Redacted::Untouched;
        println!("{} bytes of Tasmota STATE; per call:", state.len());
        let n = 20_000;
        time("redacted field present (Wifi.SSId): rewritten", n, &|| rewritten(state.as_bytes(), &ssid));
        time("no redacted name in it (lat): untouched", n, &|| untouched(state.as_bytes(), &lat));
        time("name in it but not on the path (Foo.SSId): untouched", n, &|| untouched(state.as_bytes(), &paths(&["Foo.SSId"])));
        time("old serde_json::Value rewrite, field present", n, &|| old(state.as_bytes(), &ssid).is_some());
        time("gzip, field present: inflate, rewrite, recompress", n, &|| rewritten(&gzipped, &ssid));
        time("gzip, no name in it", n, &|| untouched(&gzipped, &lat));
        time("UTF-16 with mark, field present", n, &|| rewritten(&utf16, &ssid));
        time("plain `ON`", n, &|| untouched(b"ON", &lat));
        // The floor of a fast path that would not check that JSON is JSON: the name search alone.
        time("(the search for `lat` alone, without checking the JSON)", n, &|| !Rules::new(&lat).may_hold(&state));
        let bomb = gzip(&[b"{}".as_slice(), &vec![b' '; 64 << 20]].concat());
        println!("worst cases:");
        time(&format!("gzip bomb ({} KB inflating to 64 MiB): refused at 4 MiB", bomb.len() / 1000), 20, &|| {
            outcome(&bomb, &["lat"]) == Redacted::Unreadable
        });
        let big = gzip(format!(r#"{{"lat":1,"pad":"{}"}}"#, "x".repeat((4 << 20) - 100)).as_bytes());
        time(&format!("gzip ({} KB) of 4 MiB JSON holding lat: rewritten", big.len() / 1000), 20, &|| rewritten(&big, &lat));
    }
}
