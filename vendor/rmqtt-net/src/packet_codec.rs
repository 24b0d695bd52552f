//! Hearth patch (rmqtt-net's eleventh change, `vendor/PATCHES.md`): each packet is decoded from
//! bytes of its own.

use rmqtt_codec::error::{DecodeError, EncodeError};
use rmqtt_codec::{MqttCodec, MqttPacket};
use tokio_util::bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// rmqtt-codec's codec, handed each whole packet in a buffer of its own.
///
/// The codec cuts a packet's topic, payload and properties out of the read buffer as slices, and
/// a slice keeps its buffer's whole allocation alive. A message that waits (in the queue of a
/// subscriber who is away, in flight, in the retained store) or a subscription's filter therefore
/// kept whatever had been read with it: a 1-byte reading read after a 900 KB message that no one
/// wanted kept the read buffer the 900 KB had grown, while its queue counted 15 bytes. Each
/// packet is now copied out of the read buffer before the codec decodes it, so what outlives the
/// read is the packet's own bytes, and the read buffer, shared with no one, is reused in place.
/// Cost: one copy of every packet, and an allocation of its size (and 5 bytes). Stories:
/// `crates/hearth-broker/tests/packet_codec.rs`, `tests/integration/test_hostile_queues.py`.
pub struct PacketCodec {
    codec: MqttCodec,
    /// The length of the body the codec waits for, having taken its packet's fixed header; 0 when
    /// it waits for none (a packet with no body is decoded as soon as its header is taken).
    waiting_body: u32,
}

impl PacketCodec {
    pub fn new(codec: MqttCodec) -> Self {
        Self { codec, waiting_body: 0 }
    }

    /// The codec, to set its limits.
    pub fn codec_mut(&mut self) -> &mut MqttCodec {
        &mut self.codec
    }
}

/// A fixed header's length and the body length it announces, once all of it is in `src`; `None`
/// while it is not (or when it is malformed, which the codec then says).
fn fixed_header(src: &[u8]) -> Option<(usize, usize)> {
    let mut body = 0usize;
    for (i, byte) in src.iter().skip(1).take(4).enumerate() {
        body |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((i + 2, body));
        }
    }
    None
}

impl Decoder for PacketCodec {
    type Item = (MqttPacket, u32);
    type Error = DecodeError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, DecodeError> {
        if matches!(self.codec, MqttCodec::Version(_)) {
            // The version codec only looks at the CONNECT's first bytes; it takes none.
            return self.codec.decode(src);
        }
        let packet_len = match (self.waiting_body, fixed_header(src)) {
            (0, Some((header, body))) => header + body,
            (0, None) => return self.codec.decode(src),
            (body, _) => body as usize,
        };
        if src.len() < packet_len {
            // Part of a packet: the codec takes its header (checking the size it announces) and
            // makes room for the rest.
            let had = src.len();
            let decoded = self.codec.decode(src)?;
            if self.waiting_body == 0 && src.len() < had {
                self.waiting_body = (packet_len - (had - src.len())) as u32;
            }
            return Ok(decoded);
        }
        // Room for what the codec reserves once it has decoded (2 bytes in MQTT 3, 5 in 5), which
        // would otherwise allocate again, as the decoded packet still shares this buffer.
        let mut packet = BytesMut::with_capacity(packet_len + 5);
        packet.extend_from_slice(&src[..packet_len]);
        src.advance(packet_len);
        self.waiting_body = 0;
        let decoded = self.codec.decode(&mut packet);
        debug_assert!(packet.is_empty() || decoded.is_err(), "a whole packet is decoded whole");
        decoded
    }
}

impl Encoder<MqttPacket> for PacketCodec {
    type Error = EncodeError;

    #[inline]
    fn encode(&mut self, item: MqttPacket, dst: &mut BytesMut) -> Result<(), EncodeError> {
        self.codec.encode(item, dst)
    }
}
