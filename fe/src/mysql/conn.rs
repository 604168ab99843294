//! MySQL packet I/O over one TCP connection, framed by mysql_common's codec
//! (which splits and joins packets over 16 MiB and checks sequence ids).

use bytes::BytesMut;
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
    /// Bad framing (wrong sequence, oversized packet) is an error that ends the connection.
    pub async fn read_packet(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut packet = Vec::new();
        loop {
            match self.codec.decode(&mut self.inbuf, &mut packet) {
                Ok(true) => return Ok(Some(packet)),
                Ok(false) => {}
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
