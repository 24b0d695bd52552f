//! Hearth patch (rmqtt-net's third change, completed by its twelfth, `vendor/PATCHES.md`): the
//! fields of a packet that something keeps, copied out of the packet.
//!
//! The codec cuts each field out of the packet as a slice, and a slice keeps the packet's whole
//! allocation alive. A session keeps its CONNECT (and its Will, published when it ends, perhaps
//! retained) for as long as it lasts, so one slice left in it kept the whole packet, password
//! included, after the password itself had been cleared (rmqtt's change 21); and a PUBLISH
//! rewritten with a redacted payload kept the original through its topic and properties. Every
//! field that holds bytes is copied, so that the packet is freed once it has been handled.

use bytestring::ByteString;
use rmqtt_codec::v5::{PublishProperties, UserProperties};
use rmqtt_codec::{v3, v5};
use tokio_util::bytes::Bytes;

fn text(s: &ByteString) -> ByteString {
    ByteString::from(&**s)
}

fn bytes(b: &Bytes) -> Bytes {
    Bytes::copy_from_slice(b)
}

fn user_properties(p: &UserProperties) -> UserProperties {
    p.iter().map(|(k, v)| (text(k), text(v))).collect()
}

/// An MQTT 3.1.1 CONNECT whose fields share nothing with the packet it was read from.
pub fn own_v3_connect(c: &mut v3::Connect) {
    c.client_id = text(&c.client_id);
    c.username = c.username.as_ref().map(text);
    c.password = c.password.as_ref().map(bytes);
    if let Some(will) = c.last_will.as_mut() {
        will.topic = text(&will.topic);
        will.message = bytes(&will.message);
    }
}

/// An MQTT 5 CONNECT whose fields share nothing with the packet it was read from: its user
/// properties and authentication data, and its Will's properties, as well as the fields an MQTT
/// 3.1.1 CONNECT has.
pub fn own_v5_connect(c: &mut v5::Connect) {
    c.client_id = text(&c.client_id);
    c.username = c.username.as_ref().map(text);
    c.password = c.password.as_ref().map(bytes);
    c.auth_method = c.auth_method.as_ref().map(text);
    c.auth_data = c.auth_data.as_ref().map(bytes);
    c.user_properties = user_properties(&c.user_properties);
    if let Some(will) = c.last_will.as_mut() {
        will.topic = text(&will.topic);
        will.message = bytes(&will.message);
        will.correlation_data = will.correlation_data.as_ref().map(bytes);
        will.content_type = will.content_type.as_ref().map(text);
        will.response_topic = will.response_topic.as_ref().map(text);
        will.user_properties = user_properties(&will.user_properties);
    }
}

/// An MQTT 5 PUBLISH's properties, sharing nothing with the packet they were read from (Hearth's
/// redaction hook keeps them with a new payload).
pub fn own_publish_properties(p: &mut PublishProperties) {
    p.correlation_data = p.correlation_data.as_ref().map(bytes);
    p.content_type = p.content_type.as_ref().map(text);
    p.response_topic = p.response_topic.as_ref().map(text);
    p.user_properties = user_properties(&p.user_properties);
}
