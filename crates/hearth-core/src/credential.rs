//! A device's MQTT credential (DESIGN.md, "Credential"): a username and a random secret, shown
//! once and stored only as a hash. The secret is 192 random bits, so a fast hash (SHA-256) is
//! right: nobody can guess through it, and checking a CONNECT costs microseconds, not the 50 ms of
//! a password hash that a flood of connects would turn into a denial of service.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a secret.
pub const SECRET_BYTES: usize = 24;

/// The secret as shown to a person: lowercase hex, easy to type into a device's web page.
pub fn secret_from_random(bytes: &[u8; SECRET_BYTES]) -> String {
    hex::encode(bytes)
}

/// What the store keeps: `sha256:<hex>`.
pub fn hash_secret(secret: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(secret.as_bytes())))
}

/// Checks a password from a CONNECT against a stored hash, in constant time.
pub fn verify(password: &[u8], stored: &str) -> bool {
    let Some(expected) = stored.strip_prefix("sha256:").and_then(|h| hex::decode(h).ok()) else { return false };
    bool::from(Sha256::digest(password).as_slice().ct_eq(&expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_secret_verifies() {
        let secret = secret_from_random(&[7; SECRET_BYTES]);
        assert_eq!(secret.len(), 48);
        let stored = hash_secret(&secret);
        assert!(!stored.contains(&secret));
        assert!(verify(secret.as_bytes(), &stored));
        assert!(!verify(b"wrong", &stored));
        assert!(!verify(secret.as_bytes(), "plain-text"));
        assert!(!verify(b"", &stored));
    }
}
