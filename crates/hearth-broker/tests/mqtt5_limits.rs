//! MQTT 5's limits as the patched engine computes them (vendor/PATCHES.md, rmqtt changes 26 and
//! 27): what is left of a message expiry interval, and the largest packet a client takes.

use rmqtt::types::{expiry_left, outbound_limit};

#[test]
fn what_is_left_of_an_expiry_is_rounded_up_and_never_more_than_the_interval() {
    assert_eq!(expiry_left(3_000, 0), Some(3));
    assert_eq!(expiry_left(3_000, 1), Some(3), "2.999 s left is 3, as a whole second");
    assert_eq!(expiry_left(3_000, 1_500), Some(2));
    // The last second says 1: 0 would be left out of the packet, and mean "never expires".
    assert_eq!(expiry_left(3_000, 2_999), Some(1));
    assert_eq!(expiry_left(3_000, 3_000), None, "run out");
    assert_eq!(expiry_left(3_000, 60_000), None);
    // The clock stepped back: no more than the interval.
    assert_eq!(expiry_left(3_000, -10_000), Some(3));
    assert_eq!(expiry_left(i64::from(u32::MAX) * 1000, 0), Some(u32::MAX));
}

/// The bytes a packet with `remaining` bytes after its fixed header's first byte takes.
fn whole_packet(remaining: u32) -> u32 {
    let length_bytes = match remaining {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    };
    1 + length_bytes + remaining
}

#[test]
fn the_outbound_limit_lets_through_exactly_the_packets_that_fit() {
    // rmqtt-codec takes 5 off what it is given and compares the rest with the remaining length.
    let largest_taken = |max: u32| outbound_limit(max) - 5;
    for max in (3..70_000).chain([2_097_150, 2_097_155, 2_097_156, 268_435_455]) {
        let r = largest_taken(max);
        assert!(whole_packet(r) <= max, "maximum {max}: a remaining length of {r} takes {}", whole_packet(r));
        assert!(whole_packet(r + 1) > max, "maximum {max}: {} would fit too", r + 1);
    }
    assert_eq!(largest_taken(256), 253, "256 bytes: 1 + 2 length bytes + 253");
}
