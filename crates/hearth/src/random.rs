//! Randomness from the operating system, for tokens and ids.

use anyhow::{Context, Result};

pub fn bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).context("the operating system's random number generator failed")?;
    Ok(buf)
}

/// `n` random bytes as lower-case hex.
pub fn hex_token(n: usize) -> Result<String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).context("the operating system's random number generator failed")?;
    Ok(hex::encode(buf))
}

pub fn device_id() -> hearth_core::device::DeviceId {
    // 48 random bits: collisions in one home are vanishingly rare, and the store's primary key
    // would refuse one rather than merge two devices.
    let b = bytes::<8>()
        .map(u64::from_le_bytes)
        .unwrap_or_else(|_| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0));
    hearth_core::device::DeviceId::from_random(b)
}
