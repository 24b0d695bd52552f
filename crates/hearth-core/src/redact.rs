//! Removing the fields a person chose to redact from a device's messages.

/// What redaction made of a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redacted {
    /// Nothing to remove: it held none of the fields, or is not JSON (text, a picture).
    Untouched,
    /// The new payload, and the paths removed.
    Rewritten(Vec<u8>, Vec<String>),
    /// It looks like JSON but cannot be read (cut short, nested too deep): whether it holds a
    /// redacted field cannot be told, so it must not go out.
    Unreadable,
}

/// Removes the fields at `paths` (`Wifi.SSId`, `lat`) from a JSON payload, in every element of
/// the arrays on the way (`[{"lat": ...}, ...]`).
pub fn redact(payload: &[u8], paths: &[String]) -> Redacted {
    // A byte-order mark: some readers (Python's) accept it, serde_json does not.
    let payload = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
    let Some(start) = payload.iter().position(|b| !b.is_ascii_whitespace()) else { return Redacted::Untouched };
    if paths.is_empty() || !matches!(payload[start], b'{' | b'[') {
        return Redacted::Untouched;
    }
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(payload) else { return Redacted::Unreadable };
    let mut removed = Vec::new();
    for path in paths {
        let levels: Vec<&str> = path.split('.').collect();
        if remove(&mut value, &levels) {
            removed.push(path.clone());
        }
    }
    if removed.is_empty() {
        return Redacted::Untouched;
    }
    match serde_json::to_vec(&value) {
        Ok(rewritten) => Redacted::Rewritten(rewritten, removed),
        Err(_) => Redacted::Unreadable,
    }
}

/// Removes `levels` from `value`; true if anything was removed.
fn remove(value: &mut serde_json::Value, levels: &[&str]) -> bool {
    match value {
        serde_json::Value::Array(items) => items.iter_mut().fold(false, |any, item| remove(item, levels) | any),
        serde_json::Value::Object(map) => match levels {
            [] => false,
            [last] => map.remove(*last).is_some(),
            [first, rest @ ..] => map.get_mut(*first).is_some_and(|inner| remove(inner, rest)),
        },
        _ => false,
    }
}
