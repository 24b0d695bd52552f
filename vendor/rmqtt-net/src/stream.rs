//! MQTT protocol stream dispatcher and version-specific stream implementations.
//!
//! Provides protocol version negotiation ([`Dispatcher::mqtt`]) and version-specific
//! MQTT v3.1.1/v5.0 stream types ([`v3::MqttStream`], [`v5::MqttStream`]) with send/recv
//! methods for all MQTT packet types.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::anyhow;
use futures::SinkExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::bytes::BytesMut;
use tokio_util::codec::{Decoder, Framed};

use crate::error::MqttError;
use crate::{Builder, Result};
use rmqtt_codec::cert::CertInfo;
use rmqtt_codec::error::{DecodeError, SendPacketError};
use rmqtt_codec::v3::Codec as CodecV3;
use rmqtt_codec::v5::Codec as CodecV5;
use rmqtt_codec::version::{ProtocolVersion, VersionCodec};
use rmqtt_codec::{MqttCodec, MqttPacket};

use crate::PacketCodec;

/// Hearth patch: the first read of an idle connection's bytes, onto the stack, and the least room
/// a buffer holding part of a packet gets for the rest (`poll_next_packet`).
const READ_BUFFER: usize = 1024;

/// Hearth patch: the next packet from `io`, holding no read buffer while the connection is idle.
///
/// tokio-util's `Framed` keeps its read buffer for the connection's whole life: it was 1 KiB in
/// every idle connection, for as long as it stayed connected. Here a buffer
/// with nothing in it is given back after every poll (after a whole packet, while waiting for the
/// next, or for the rest of one whose header the codec has taken), and when the buffer is empty
/// the socket is first read onto the stack: only when bytes come is a buffer taken again. The
/// bytes in the buffer are decoded here before `Framed` is asked, because `Framed` decodes only
/// what it read itself: it would wait for more bytes with a whole packet in its buffer. A decode
/// that finds only part of a packet is asked again by `Framed` after its next read, as it always
/// is. Unlike `Framed`, this does not remember an error: the stream must not be polled after one
/// (rmqtt ends the connection on the first).
fn poll_next_packet<Io>(
    io: &mut Framed<Io, PacketCodec>,
    cx: &mut Context<'_>,
) -> Poll<Option<std::result::Result<(MqttPacket, u32), DecodeError>>>
where
    Io: AsyncRead + Unpin,
{
    let next = poll_buffered_packet(io, cx);
    let buffer = io.read_buffer_mut();
    if buffer.is_empty() {
        if buffer.capacity() != 0 {
            *buffer = BytesMut::new();
        }
    } else if buffer.capacity() > 4 * READ_BUFFER.max(buffer.len()) {
        // The codec reserves room for the whole packet a header announces, up to the maximum
        // packet size (1 MiB in Hearth), before any of it has come: a host sending such headers
        // and a few bytes on many connections held a megabyte of address space on each. The room
        // follows what came instead, and grows (doubling) as the rest comes.
        let mut smaller = BytesMut::with_capacity(2 * READ_BUFFER.max(buffer.len()));
        smaller.extend_from_slice(buffer);
        *buffer = smaller;
    }
    next
}

/// Hearth patch: `poll_next_packet` but for giving the empty buffer back.
fn poll_buffered_packet<Io>(
    io: &mut Framed<Io, PacketCodec>,
    cx: &mut Context<'_>,
) -> Poll<Option<std::result::Result<(MqttPacket, u32), DecodeError>>>
where
    Io: AsyncRead + Unpin,
{
    if io.read_buffer().is_empty() {
        // Uninitialised, so that a poll with nothing to read costs no 1 KiB of zeroes.
        let mut first = [std::mem::MaybeUninit::<u8>::uninit(); READ_BUFFER];
        let mut read = ReadBuf::uninit(&mut first);
        match Pin::new(io.get_mut()).poll_read(cx, &mut read) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
            // The end of the stream: `Framed` reads it again below and ends as it always did.
            Poll::Ready(Ok(())) if read.filled().is_empty() => {}
            Poll::Ready(Ok(())) => {
                // Exactly what came, not a whole fresh kibibyte: an idle connection's next
                // packet takes only its size (and `PacketCodec` gives each packet bytes of its
                // own, so what a message keeps no longer shares this buffer).
                *io.read_buffer_mut() = BytesMut::from(read.filled());
            }
        }
    }
    if io.read_buffer().is_empty() {
        return futures::Stream::poll_next(Pin::new(io), cx);
    }
    let mut buffer = std::mem::take(io.read_buffer_mut());
    let decoded = io.codec_mut().decode(&mut buffer);
    *io.read_buffer_mut() = buffer;
    match decoded {
        Ok(Some(packet)) => Poll::Ready(Some(Ok(packet))),
        Ok(None) => {
            // Part of a packet: `Framed` reads the rest into a buffer of at least a kibibyte (it
            // only asks for one byte of room), as it did into its own; a kibibyte more only once
            // that is full, so that a packet's first bytes come one by one into the same 1 KiB.
            let buffer = io.read_buffer_mut();
            if buffer.capacity() < READ_BUFFER {
                buffer.reserve(READ_BUFFER - buffer.len());
            } else if buffer.capacity() == buffer.len() {
                buffer.reserve(READ_BUFFER);
            }
            futures::Stream::poll_next(Pin::new(io), cx)
        }
        Err(e) => Poll::Ready(Some(Err(e))),
    }
}

/// MQTT protocol dispatcher handling version negotiation
///
/// Manages initial protocol detection and creates version-specific streams
pub struct Dispatcher<Io> {
    /// Framed IO layer with MQTT codec
    pub(crate) io: Framed<Io, PacketCodec>,
    /// Remote client's network address
    pub remote_addr: SocketAddr,
    /// Shared configuration builder
    pub cfg: Arc<Builder>,

    /// Hearth patch (fourteenth change): boxed, here and in the streams and the CONNECT: a
    /// client certificate's fields are 96 bytes inline, and most connections have none.
    pub cert_info: Option<Box<CertInfo>>,
}

impl<Io> Dispatcher<Io>
where
    Io: AsyncRead + AsyncWrite + Unpin,
{
    /// Creates a new Dispatcher instance
    pub(crate) fn new(
        io: Io,
        remote_addr: SocketAddr,
        cert_info: Option<CertInfo>,
        cfg: Arc<Builder>,
    ) -> Self {
        // Hearth patch: no buffers until bytes come, not tokio-util's 8 KiB each way. The read
        // buffer is taken when the first bytes come, of their size (`poll_next_packet`), and
        // grows for a larger packet; a connection that has sent nothing yet holds none, however
        // long it waits for its handshake timeout. The write buffer grows to the packets sent.
        let mut io = Framed::with_capacity(io, PacketCodec::new(MqttCodec::Version(VersionCodec)), 0);
        *io.write_buffer_mut() = Default::default();
        Dispatcher { io, remote_addr, cfg, cert_info: cert_info.map(Box::new) }
    }

    /// Negotiates protocol version and returns appropriate stream
    #[inline]
    pub async fn mqtt(mut self) -> Result<MqttStream<Io>> {
        Ok(match self.probe_version().await? {
            ProtocolVersion::MQTT3 => MqttStream::V3(v3::MqttStream {
                io: self.io,
                remote_addr: self.remote_addr,
                cfg: self.cfg,
                #[cfg(feature = "tls")]
                cert_info: self.cert_info,
            }),
            ProtocolVersion::MQTT5 => MqttStream::V5(v5::MqttStream {
                io: self.io,
                remote_addr: self.remote_addr,
                cfg: self.cfg,
                #[cfg(feature = "tls")]
                cert_info: self.cert_info,
            }),
        })
    }

    /// Detects protocol version from initial handshake
    #[inline]
    async fn probe_version(&mut self) -> Result<ProtocolVersion> {
        // Hearth's patch: a connection that never sends the bytes naming its protocol version is
        // closed after the handshake timeout, as one that stalls later in its CONNECT is; without
        // it, a host on the network holds a task and a file descriptor per idle connection for
        // as long as it likes.
        // Read as every later packet is (`poll_next_packet`): nothing held while nothing comes,
        // and then only what came. The version codec only looks: the CONNECT stays in the buffer
        // for the version's own codec.
        let io = &mut self.io;
        let first = tokio::time::timeout(
            self.cfg.handshake_timeout,
            futures::future::poll_fn(|cx| poll_next_packet(io, cx)),
        )
        .await
        .map_err(|_| MqttError::ReadTimeout)?;
        let Some(Ok((MqttPacket::Version(ver), _))) = first else {
            return Err(anyhow!(DecodeError::InvalidProtocol));
        };

        let codec = match ver {
            ProtocolVersion::MQTT3 => MqttCodec::V3(CodecV3::new(self.cfg.max_packet_size)),
            ProtocolVersion::MQTT5 => {
                MqttCodec::V5(CodecV5::new(self.cfg.max_packet_size, self.cfg.max_packet_size))
            }
        };

        *self.io.codec_mut() = PacketCodec::new(codec);
        Ok(ver)
    }
}

/// Version-specific MQTT protocol streams
pub enum MqttStream<Io> {
    /// MQTT v3.1.1 implementation
    V3(v3::MqttStream<Io>),
    /// MQTT v5.0 implementation
    V5(v5::MqttStream<Io>),
}

pub mod v3 {

    use std::net::SocketAddr;
    use std::num::NonZeroU16;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use futures::StreamExt;
    use tokio::io::{AsyncRead, AsyncWrite};
    use tokio_util::codec::Framed;

    use crate::error::MqttError;
    use crate::{Builder, Result};
    #[cfg(feature = "tls")]
    use rmqtt_codec::cert::CertInfo;
    use rmqtt_codec::error::DecodeError;
    use rmqtt_codec::types::Publish;
    use rmqtt_codec::v3::{Connect, ConnectAckReason, Packet as PacketV3, Packet};
    use crate::PacketCodec;
    use rmqtt_codec::MqttPacket;

    /// MQTT v3.1.1 protocol stream implementation
    pub struct MqttStream<Io> {
        /// Framed IO layer with MQTT codec
        pub io: Framed<Io, PacketCodec>,
        /// Remote client's network address
        pub remote_addr: SocketAddr,
        /// Shared configuration builder
        pub cfg: Arc<Builder>,
        #[cfg(feature = "tls")]
        /// TLS certificate information (if available)
        pub cert_info: Option<Box<CertInfo>>,
    }

    /// # Examples
    /// ```
    /// use std::net::{SocketAddr, IpAddr, Ipv4Addr};
    /// use std::sync::Arc;
    /// use tokio::net::TcpStream;
    /// use tokio_util::codec::Framed;
    /// use rmqtt_codec::{MqttCodec, types::Publish};
    /// use rmqtt_net::{Builder, PacketCodec, v3};
    ///
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 1883);
    /// let stream = TcpStream::connect(addr).await?;
    /// let mut mqtt_stream = v3::MqttStream {
    ///     io: Framed::new(stream, PacketCodec::new(MqttCodec::V3(Default::default()))),
    ///     remote_addr: addr,
    ///     cfg: Arc::new(Builder::default()),
    ///     cert_info: None,
    /// };
    ///
    /// // Send a PING request
    /// mqtt_stream.send_ping_request().await?;
    /// # Ok(())
    /// # }
    /// ```
    impl<Io> MqttStream<Io>
    where
        Io: AsyncRead + AsyncWrite + Unpin,
    {
        /// Sends DISCONNECT packet and flushes buffers
        #[inline]
        pub async fn send_disconnect(&mut self) -> Result<()> {
            self.send(PacketV3::Disconnect).await?;
            self.flush().await
        }

        /// Publishes a message to the broker
        #[inline]
        pub async fn send_publish(&mut self, publish: Box<Publish>) -> Result<()> {
            self.send(PacketV3::Publish(publish)).await
        }

        /// Acknowledges a received publish (QoS 1)
        #[inline]
        pub async fn send_publish_ack(&mut self, packet_id: NonZeroU16) -> Result<()> {
            self.send(PacketV3::PublishAck { packet_id }).await
        }

        /// Confirms receipt of a publish (QoS 2 step 1)
        #[inline]
        pub async fn send_publish_received(&mut self, packet_id: NonZeroU16) -> Result<()> {
            self.send(PacketV3::PublishReceived { packet_id }).await
        }

        /// Releases a stored publish (QoS 2 step 2)
        #[inline]
        pub async fn send_publish_release(&mut self, packet_id: NonZeroU16) -> Result<()> {
            self.send(PacketV3::PublishRelease { packet_id }).await
        }

        /// Confirms publish completion (QoS 2 step 3)
        #[inline]
        pub async fn send_publish_complete(&mut self, packet_id: NonZeroU16) -> Result<()> {
            self.send(PacketV3::PublishComplete { packet_id }).await
        }

        /// Acknowledges a subscription request
        #[inline]
        pub async fn send_subscribe_ack(
            &mut self,
            packet_id: NonZeroU16,
            status: Vec<rmqtt_codec::v3::SubscribeReturnCode>,
        ) -> Result<()> {
            self.send(PacketV3::SubscribeAck { packet_id, status }).await
        }

        /// Acknowledges an unsubscribe request
        #[inline]
        pub async fn send_unsubscribe_ack(&mut self, packet_id: NonZeroU16) -> Result<()> {
            self.send(PacketV3::UnsubscribeAck { packet_id }).await
        }

        /// Initiates connection to the broker
        #[inline]
        pub async fn send_connect(&mut self, connect: rmqtt_codec::v3::Connect) -> Result<()> {
            self.send(PacketV3::Connect(Box::new(connect))).await
        }

        /// Responds to connection request
        #[inline]
        pub async fn send_connect_ack(
            &mut self,
            return_code: ConnectAckReason,
            session_present: bool,
        ) -> Result<()> {
            self.send(PacketV3::ConnectAck(rmqtt_codec::v3::ConnectAck { session_present, return_code }))
                .await
        }

        /// Sends keep-alive ping request
        #[inline]
        pub async fn send_ping_request(&mut self) -> Result<()> {
            self.send(PacketV3::PingRequest {}).await
        }

        /// Responds to ping request
        #[inline]
        pub async fn send_ping_response(&mut self) -> Result<()> {
            self.send(PacketV3::PingResponse {}).await
        }

        /// Generic packet sending method
        ///
        /// Hearth patch (vendor/PATCHES.md, rmqtt-net 10): the packet is encoded when this is
        /// called, and the future returned only writes it out, so it holds no copy of the packet.
        #[inline]
        pub fn send(
            &mut self,
            packet: rmqtt_codec::v3::Packet,
        ) -> impl std::future::Future<Output = Result<()>> + '_ {
            let send_timeout = self.cfg.send_timeout;
            super::send(&mut self.io, MqttPacket::V3(packet), send_timeout)
        }

        /// Flushes write buffers
        #[inline]
        pub async fn flush(&mut self) -> Result<()> {
            super::flush(&mut self.io, self.cfg.send_timeout).await
        }

        /// Closes the connection gracefully
        #[inline]
        pub async fn close(&mut self) -> Result<()> {
            super::close(&mut self.io, self.cfg.send_timeout).await
        }

        /// Receives next packet with timeout
        #[inline]
        pub async fn recv(&mut self, tm: Duration) -> Result<Option<rmqtt_codec::v3::Packet>> {
            match tokio::time::timeout(tm, self.next()).await {
                Ok(Some(Ok(msg))) => Ok(Some(msg)),
                Ok(Some(Err(e))) => Err(e),
                Ok(None) => Ok(None),
                Err(_) => Err(MqttError::ReadTimeout.into()),
            }
        }

        /// Waits for CONNECT packet with timeout
        #[inline]
        pub async fn recv_connect(&mut self, tm: Duration) -> Result<Box<Connect>> {
            let connect = match self.recv(tm).await {
                #[allow(unused_mut)]
                Ok(Some(Packet::Connect(mut connect))) => {
                    #[cfg(feature = "tls")]
                    {
                        // Subject DN takes precedence over CN when both
                        // flags are set: full DN includes O/OU/CN and is
                        // self-namespacing across CAs.
                        if let Some(cert) = &self.cert_info {
                            if self.cfg.cert_subject_dn_as_username && !cert.subject.is_empty() {
                                connect.username = Some(cert.subject.clone().into());
                            } else if self.cfg.cert_cn_as_username {
                                if let Some(cn) = &cert.common_name {
                                    connect.username = Some(cn.clone().into());
                                }
                            }
                        }
                        if self.cfg.collect_cert_info {
                            connect.cert = self.cert_info.clone();
                        }
                    }
                    connect
                }
                Err(e) => {
                    return Err(e);
                }
                _ => {
                    return Err(MqttError::InvalidProtocol.into());
                }
            };
            let mut connect = connect;
            // Hearth patch: the fields kept for the session are copies, not slices of the
            // packet, which they would otherwise keep alive (password and all) for as long as
            // the session lasts.
            crate::own_v3_connect(&mut connect);
            Ok(connect)
        }
    }

    impl<Io> futures::Stream for MqttStream<Io>
    where
        Io: AsyncRead + Unpin,
    {
        type Item = Result<rmqtt_codec::v3::Packet>;

        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            // Hearth patch: no read buffer while idle (`poll_next_packet`).
            let next = super::poll_next_packet(&mut self.io, cx);
            Poll::Ready(match futures::ready!(next) {
                Some(Ok((MqttPacket::V3(packet), _))) => Some(Ok(packet)),
                Some(Ok(_)) => Some(Err(MqttError::Decode(DecodeError::MalformedPacket).into())),
                // Hearth patch: a packet the codec refuses ends the connection with the codec's
                // reason code (0x81 malformed, 0x95 too large...): wrapped as `MqttError`, which
                // rmqtt's `Reason` recognises; bare, it became 0x80, Unspecified error.
                Some(Err(e)) => Some(Err(MqttError::Decode(e).into())),
                None => None,
            })
        }
    }
}

pub mod v5 {
    use std::net::SocketAddr;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use futures::StreamExt;
    use tokio::io::{AsyncRead, AsyncWrite};
    use tokio_util::codec::Framed;

    use crate::error::MqttError;
    use crate::{Builder, Result};
    #[cfg(feature = "tls")]
    use rmqtt_codec::cert::CertInfo;
    use rmqtt_codec::error::DecodeError;
    use rmqtt_codec::types::Publish;
    use rmqtt_codec::v5::{Auth, Connect, Disconnect, Packet as PacketV5, Packet};
    use crate::PacketCodec;
    use rmqtt_codec::MqttPacket;

    /// MQTT v5.0 protocol stream implementation
    pub struct MqttStream<Io> {
        /// Framed IO layer with MQTT codec
        pub io: Framed<Io, PacketCodec>,
        /// Remote client's network address
        pub remote_addr: SocketAddr,
        /// Shared configuration builder
        pub cfg: Arc<Builder>,
        #[cfg(feature = "tls")]
        /// TLS certificate information (if available)
        pub cert_info: Option<Box<CertInfo>>,
    }

    /// # Examples
    /// ```
    /// use std::net::{SocketAddr, IpAddr, Ipv4Addr};
    /// use std::sync::Arc;
    /// use tokio::net::TcpStream;
    /// use tokio_util::codec::Framed;
    /// use rmqtt_codec::{MqttCodec, types::Publish};
    /// use rmqtt_net::{Builder, PacketCodec, v5};
    /// use rmqtt_codec::v5::Connect;
    ///
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 1883);
    /// let stream = TcpStream::connect(addr).await?;
    /// let mut mqtt_stream = v5::MqttStream {
    ///     io: Framed::new(stream, PacketCodec::new(MqttCodec::V5(Default::default()))),
    ///     remote_addr: addr,
    ///     cfg: Arc::new(Builder::default()),
    ///     cert_info: None
    /// };
    ///
    /// // Send authentication packet
    /// mqtt_stream.send_auth(rmqtt_codec::v5::Auth::default()).await?;
    /// # Ok(())
    /// # }
    /// ```
    impl<Io> MqttStream<Io>
    where
        Io: AsyncRead + AsyncWrite + Unpin,
    {
        /// Sends DISCONNECT packet with reason code
        #[inline]
        pub async fn send_disconnect(&mut self, disc: Disconnect) -> Result<()> {
            self.send(PacketV5::Disconnect(disc)).await?;
            self.flush().await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok(())
        }

        /// Publishes a message to the broker
        #[inline]
        pub async fn send_publish(&mut self, publish: Box<Publish>) -> Result<()> {
            self.send(PacketV5::Publish(publish)).await
        }

        /// Acknowledges a received publish (QoS 1)
        #[inline]
        pub async fn send_publish_ack(&mut self, ack: rmqtt_codec::v5::PublishAck) -> Result<()> {
            self.send(PacketV5::PublishAck(ack)).await
        }

        /// Confirms receipt of a publish (QoS 2 step 1)
        #[inline]
        pub async fn send_publish_received(&mut self, ack: rmqtt_codec::v5::PublishAck) -> Result<()> {
            self.send(PacketV5::PublishReceived(ack)).await
        }

        /// Releases a stored publish (QoS 2 step 2)
        #[inline]
        pub async fn send_publish_release(&mut self, ack2: rmqtt_codec::v5::PublishAck2) -> Result<()> {
            self.send(PacketV5::PublishRelease(ack2)).await
        }

        /// Confirms publish completion (QoS 2 step 3)
        #[inline]
        pub async fn send_publish_complete(&mut self, ack2: rmqtt_codec::v5::PublishAck2) -> Result<()> {
            self.send(PacketV5::PublishComplete(ack2)).await
        }

        /// Acknowledges a subscription request
        #[inline]
        pub async fn send_subscribe_ack(&mut self, ack: rmqtt_codec::v5::SubscribeAck) -> Result<()> {
            self.send(PacketV5::SubscribeAck(ack)).await
        }

        /// Acknowledges an unsubscribe request
        #[inline]
        pub async fn send_unsubscribe_ack(&mut self, unack: rmqtt_codec::v5::UnsubscribeAck) -> Result<()> {
            self.send(PacketV5::UnsubscribeAck(unack)).await
        }

        /// Initiates connection to the broker
        #[inline]
        pub async fn send_connect(&mut self, connect: rmqtt_codec::v5::Connect) -> Result<()> {
            self.send(PacketV5::Connect(Box::new(connect))).await
        }

        /// Responds to connection request
        #[inline]
        pub async fn send_connect_ack(&mut self, ack: rmqtt_codec::v5::ConnectAck) -> Result<()> {
            self.send(PacketV5::ConnectAck(Box::new(ack))).await
        }

        /// Sends keep-alive ping request
        #[inline]
        pub async fn send_ping_request(&mut self) -> Result<()> {
            self.send(PacketV5::PingRequest {}).await
        }

        /// Responds to ping request
        #[inline]
        pub async fn send_ping_response(&mut self) -> Result<()> {
            self.send(PacketV5::PingResponse {}).await
        }

        /// Sends authentication exchange packet
        #[inline]
        pub async fn send_auth(&mut self, auth: Auth) -> Result<()> {
            self.send(PacketV5::Auth(auth)).await
        }

        /// Generic packet sending method
        ///
        /// Hearth patch (vendor/PATCHES.md, rmqtt-net 10): the packet is encoded when this is
        /// called, and the future returned only writes it out, so it holds no copy of the packet.
        #[inline]
        pub fn send(
            &mut self,
            packet: rmqtt_codec::v5::Packet,
        ) -> impl std::future::Future<Output = Result<()>> + '_ {
            let send_timeout = self.cfg.send_timeout;
            super::send(&mut self.io, MqttPacket::V5(packet), send_timeout)
        }

        /// Flushes write buffers
        #[inline]
        pub async fn flush(&mut self) -> Result<()> {
            super::flush(&mut self.io, self.cfg.send_timeout).await
        }

        /// Closes the connection gracefully
        #[inline]
        pub async fn close(&mut self) -> Result<()> {
            super::close(&mut self.io, self.cfg.send_timeout).await
        }

        /// Receives next packet with timeout
        #[inline]
        pub async fn recv(&mut self, tm: Duration) -> Result<Option<rmqtt_codec::v5::Packet>> {
            match tokio::time::timeout(tm, self.next()).await {
                Ok(Some(Ok(msg))) => Ok(Some(msg)),
                Ok(Some(Err(e))) => Err(e),
                Ok(None) => Ok(None),
                Err(_) => Err(MqttError::ReadTimeout.into()),
            }
        }

        /// Waits for CONNECT packet with timeout
        #[inline]
        pub async fn recv_connect(&mut self, tm: Duration) -> Result<Box<Connect>> {
            let connect = match self.recv(tm).await {
                #[allow(unused_mut)]
                Ok(Some(Packet::Connect(mut connect))) => {
                    #[cfg(feature = "tls")]
                    {
                        // Subject DN takes precedence over CN when both
                        // flags are set: full DN includes O/OU/CN and is
                        // self-namespacing across CAs.
                        if let Some(cert) = &self.cert_info {
                            if self.cfg.cert_subject_dn_as_username && !cert.subject.is_empty() {
                                connect.username = Some(cert.subject.clone().into());
                            } else if self.cfg.cert_cn_as_username {
                                if let Some(cn) = &cert.common_name {
                                    connect.username = Some(cn.clone().into());
                                }
                            }
                        }
                        if self.cfg.collect_cert_info {
                            connect.cert = self.cert_info.clone();
                        }
                    }
                    connect
                }
                Err(e) => {
                    return Err(e);
                }
                _ => {
                    return Err(MqttError::InvalidProtocol.into());
                }
            };
            let mut connect = connect;
            // Hearth patch: the fields kept for the session are copies, not slices of the
            // packet, which they would otherwise keep alive (password and all) for as long as
            // the session lasts.
            crate::own_v5_connect(&mut connect);
            Ok(connect)
        }
    }

    impl<Io> futures::Stream for MqttStream<Io>
    where
        Io: AsyncRead + Unpin,
    {
        type Item = Result<rmqtt_codec::v5::Packet>;

        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            // Hearth patch: no read buffer while idle (`poll_next_packet`).
            let next = super::poll_next_packet(&mut self.io, cx);
            Poll::Ready(match futures::ready!(next) {
                Some(Ok((MqttPacket::V5(packet), _))) => Some(Ok(packet)),
                Some(Ok(_)) => Some(Err(MqttError::Decode(DecodeError::MalformedPacket).into())),
                // Hearth patch: a packet the codec refuses ends the connection with the codec's
                // reason code (0x81 malformed, 0x95 too large...): wrapped as `MqttError`, which
                // rmqtt's `Reason` recognises; bare, it became 0x80, Unspecified error.
                Some(Err(e)) => Some(Err(MqttError::Decode(e).into())),
                None => None,
            })
        }
    }
}

/// Hearth patch (vendor/PATCHES.md, rmqtt-net 10): the packet is encoded into the write buffer
/// at once, and only the flush is awaited, with a timer only if the socket cannot take the bytes
/// at once. `SinkExt::send` under `tokio::time::timeout` held the packet twice (the argument and
/// the `Send`'s copy, 152 bytes each) and a timer (112) across its await: 424 bytes in the future
/// of every send, and so in every future that sends (a delivery, a PUBACK...), which rmqtt boxes
/// per packet, over the 1 032 bytes glibc serves from its per-thread cache. Each send also made a
/// timer (a clock read and a handle's reference count) that a send which completes at once never
/// needs. Every send still waits until its bytes are written, as before, so after a send that
/// completed the write buffer is empty, and `Framed`'s back-pressure (`poll_ready`, which flushes
/// a buffer of 8 KiB or more before taking a packet) has nothing to do; after one that failed the
/// connection ends. Relies on tokio-util's `Framed::start_send` only encoding (0.7.20, as locked):
/// `poll_ready` is not called first.
///
/// Functions returning an `async` block rather than `async fn`s: an `async fn` keeps each argument
/// twice across its first await, as it came and as moved into the body.
fn send<Io>(
    io: &mut Framed<Io, PacketCodec>,
    packet: MqttPacket,
    send_timeout: Duration,
) -> impl std::future::Future<Output = Result<()>> + '_
where
    Io: AsyncWrite + Unpin,
{
    // Not an `async` block awaiting the flush: that would hold the flush's future twice.
    match io.start_send_unpin(packet) {
        Ok(()) => futures::future::Either::Left(flush_within(io, send_timeout, || MqttError::WriteTimeout)),
        Err(e) => futures::future::Either::Right(futures::future::ready(written(Err(e)))),
    }
}

/// Hearth patch (rmqtt-net 10): the result of encoding or writing with `Framed`, its error as rmqtt
/// sees it.
fn written(result: std::result::Result<(), rmqtt_codec::error::EncodeError>) -> Result<()> {
    Ok(result.map_err(|e| MqttError::SendPacket(SendPacketError::Encode(e)))?)
}

#[inline]
fn flush<Io>(io: &mut Framed<Io, PacketCodec>, send_timeout: Duration) -> impl std::future::Future<Output = Result<()>> + '_
where
    Io: AsyncWrite + Unpin,
{
    flush_within(io, send_timeout, || MqttError::FlushTimeout)
}

/// Hearth patch (rmqtt-net 10): writes out the write buffer, failing with `timed_out()` if that
/// takes longer than `send_timeout` (zero: no limit). The timer is made only when the socket
/// cannot take every byte at the first try.
fn flush_within<Io>(
    io: &mut Framed<Io, PacketCodec>,
    send_timeout: Duration,
    timed_out: fn() -> MqttError,
) -> impl std::future::Future<Output = Result<()>> + '_
where
    Io: AsyncWrite + Unpin,
{
    async move {
        if let Poll::Ready(flushed) = std::future::poll_fn(|cx| Poll::Ready(io.poll_flush_unpin(cx))).await {
            return written(flushed);
        }
        if send_timeout.is_zero() {
            written(io.flush().await)
        } else {
            written(tokio::time::timeout(send_timeout, io.flush()).await.map_err(|_| timed_out())?)
        }
    }
}

#[inline]
async fn close<Io>(io: &mut Framed<Io, PacketCodec>, send_timeout: Duration) -> Result<()>
where
    Io: AsyncWrite + Unpin,
{
    if send_timeout.is_zero() {
        io.close().await?;
        Ok(())
    } else {
        match tokio::time::timeout(send_timeout, io.close()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(MqttError::Encode(e)),
            Err(_) => Err(MqttError::CloseTimeout),
        }?;
        Ok(())
    }
}
