//! MQTT error types for protocol, I/O, and session-level failures.
//!
//! Defines [`MqttError`] with variants covering handshake, protocol, encoding/decoding,
//! timeout, and resource-limit errors, along with conversion to MQTTv5 disconnect reason codes.

use bytestring::ByteString;
use std::num::NonZeroU16;

use serde::{Deserialize, Serialize};

use rmqtt_codec::error::{DecodeError, EncodeError, HandshakeError, ProtocolError, SendPacketError};
use rmqtt_codec::v5::{DisconnectReasonCode, PublishAckReason, ToReasonCode};

#[derive(Deserialize, Serialize, Debug, Clone, thiserror::Error)]
pub enum MqttError {
    /// Handshake error
    #[error("Mqtt handshake error: {}", _0)]
    Handshake(#[from] HandshakeError),
    #[error("Mqtt protocol error: {}", _0)]
    Protocol(#[from] ProtocolError),
    /// MQTT decoding error
    #[error("Decoding error: {0:?}")]
    Decode(#[from] DecodeError),
    /// MQTT encoding error
    #[error("Encoding error: {0:?}")]
    Encode(#[from] EncodeError),
    /// Send packet error
    #[error("Mqtt send packet error: {}", _0)]
    SendPacket(#[from] SendPacketError),
    /// Read timeout
    #[error("Read timeout")]
    ReadTimeout,
    /// Write timeout
    #[error("Write timeout")]
    WriteTimeout,
    /// Flush timeout
    #[error("Flush timeout")]
    FlushTimeout,
    /// Close timeout
    #[error("Close timeout")]
    CloseTimeout,
    #[error("{1}")]
    PublishAckReason(PublishAckReason, ByteString),
    #[error("service unavailable")]
    ServiceUnavailable,
    #[error("invalid protocol")]
    InvalidProtocol,
    #[error("too many subscriptions")]
    TooManySubscriptions,
    #[error("too many topic levels")]
    TooManyTopicLevels,
    #[error("subscription limit reached, {0}")]
    SubscribeLimited(String),
    #[error("identifier rejected")]
    IdentifierRejected,
    #[error("Provided packet id is in use")]
    PacketIdInUse(NonZeroU16),
    #[error("Is None")]
    None,
    /// Hearth patch: a PUBLISH names a topic alias above the Topic Alias Maximum the server
    /// granted in its CONNACK (MQTT-3.3.2-9): the connection ends with DISCONNECT 0x94.
    #[error("topic alias {0} is above the maximum granted ({1})")]
    TopicAliasInvalid(u16, u16),
    /// Hearth patch: a PUBLISH with an empty topic names an alias this connection never set, so
    /// it has no topic (section 3.3.2.3.4): DISCONNECT 0x82, Protocol Error.
    #[error("topic alias {0} was never set on this connection")]
    TopicAliasUnknown(u16),
    /// Hearth patch: a PUBLISH with an empty topic and no topic alias has no topic (section
    /// 3.3.2.1): DISCONNECT 0x82, Protocol Error.
    #[error("a PUBLISH with neither a topic nor a topic alias")]
    TopicMissing,
    /// Hearth patch (rmqtt change 28): a PUBLISH whose topic name holds a wildcard (MQTT-3.3.2-2):
    /// DISCONNECT 0x82, Protocol Error, as Mosquitto answers.
    #[error("a PUBLISH whose topic name holds a wildcard")]
    TopicNameWildcard,
}

impl ToReasonCode for MqttError {
    fn to_reason_code(&self) -> DisconnectReasonCode {
        match self {
            MqttError::Handshake(err) => err.to_reason_code(),
            MqttError::Protocol(err) => err.to_reason_code(),
            // Hearth patch: ill-formed UTF-8 in a string is a Malformed Packet (MQTT-1.5.4-1);
            // the codec's own mapping says 0x99, Payload format invalid, which is about a payload.
            MqttError::Decode(DecodeError::Utf8Error) => DisconnectReasonCode::MalformedPacket,
            MqttError::Decode(err) => err.to_reason_code(),
            MqttError::Encode(err) => err.to_reason_code(),
            MqttError::SendPacket(err) => err.to_reason_code(),
            MqttError::ReadTimeout
            | MqttError::WriteTimeout
            | MqttError::FlushTimeout
            | MqttError::CloseTimeout => DisconnectReasonCode::KeepAliveTimeout,
            MqttError::PublishAckReason(_, _) => DisconnectReasonCode::ImplementationSpecificError,
            MqttError::ServiceUnavailable => DisconnectReasonCode::ServerBusy,
            MqttError::InvalidProtocol => DisconnectReasonCode::ProtocolError,
            MqttError::TooManySubscriptions => DisconnectReasonCode::QuotaExceeded,
            MqttError::TooManyTopicLevels => DisconnectReasonCode::TopicNameInvalid,
            MqttError::SubscribeLimited(_) => DisconnectReasonCode::QuotaExceeded,
            MqttError::IdentifierRejected => DisconnectReasonCode::NotAuthorized,
            MqttError::PacketIdInUse(_) => DisconnectReasonCode::UnspecifiedError,
            MqttError::None => DisconnectReasonCode::UnspecifiedError,
            MqttError::TopicAliasInvalid(_, _) => DisconnectReasonCode::TopicAliasInvalid,
            MqttError::TopicAliasUnknown(_) => DisconnectReasonCode::ProtocolError,
            MqttError::TopicMissing => DisconnectReasonCode::ProtocolError,
            MqttError::TopicNameWildcard => DisconnectReasonCode::ProtocolError,
        }
    }
}
