//! MySQL packet I/O over one TCP connection, framed by mysql_common's codec
//! (which splits and joins packets over 16 MiB and checks sequence ids).

use bytes::BytesMut;
use mysql_common::proto::codec::error::PacketCodecError;
use mysql_common::proto::codec::PacketCodec;
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Conn {
    stream: TcpStream,
    codec: PacketCodec,
    inbuf: BytesMut,
    outbuf: BytesMut,
}

impl Conn {
    pub fn new(stream: TcpStream, max_allowed_packet: usize) -> Self {
        let mut codec = PacketCodec::default();
        codec.max_allowed_packet = max_allowed_packet;
        Self {
            stream,
            codec,
            inbuf: BytesMut::with_capacity(8192),
            outbuf: BytesMut::with_capacity(8192),
        }
    }

    /// A new command starts a new sequence.
    pub fn reset_seq(&mut self) {
        self.codec.reset_seq_id();
    }

    /// The next whole packet; `None` when the client closed the connection.
    /// Bad framing (wrong sequence, oversized packet) is an error that ends the
    /// connection; an oversized packet is first answered with error 1153.
    pub async fn read_packet(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut packet = Vec::new();
        loop {
            match self.codec.decode(&mut self.inbuf, &mut packet) {
                Ok(true) => return Ok(Some(packet)),
                Ok(false) => {}
                Err(PacketCodecError::PacketTooLarge) => {
                    self.refuse_oversized().await;
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "packet too large",
                    ));
                }
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            }
            if self.stream.read_buf(&mut self.inbuf).await? == 0 {
                return if self.inbuf.is_empty() && packet.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "truncated packet",
                    ))
                };
            }
        }
    }

    /// MySQL's answer to a packet over max_allowed_packet: error 1153, as the
    /// reply to the client's first packet (sequence 1, which the codec cannot
    /// set after a failed read). The rest of the packet is read and dropped,
    /// for a while, so that the client, still sending, gets to read the error
    /// rather than a reset connection.
    async fn refuse_oversized(&mut self) {
        let body = super::err_packet(
            1153,
            "08S01",
            "Got a packet bigger than 'max_allowed_packet' bytes",
        );
        let mut frame = (body.len() as u32).to_le_bytes();
        frame[3] = 1;
        if self.stream.write_all(&frame).await.is_err()
            || self.stream.write_all(&body).await.is_err()
            || self.stream.flush().await.is_err()
        {
            return;
        }
        let mut sink = vec![0u8; 64 << 10];
        let drain = async { while matches!(self.stream.read(&mut sink).await, Ok(n) if n > 0) {} };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
    }

    /// Queues one packet; `flush` sends everything queued.
    pub fn write_packet(&mut self, payload: &[u8]) -> io::Result<()> {
        let mut src = payload;
        self.codec
            .encode(&mut src, &mut self.outbuf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        self.stream.write_all(&self.outbuf).await?;
        self.outbuf.clear();
        self.stream.flush().await
    }
}
