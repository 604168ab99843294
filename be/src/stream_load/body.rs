//! A Stream Load body as it arrives, cut into blocks for the parsers. CSV comes
//! in blocks of whole lines of about [`BLOCK_BYTES`], so parsing starts long
//! before a large body has arrived and memory stays bounded. JSON is parsed
//! whole; a document (not `read_json_by_line`) over
//! `streaming_load_json_max_mb` is refused as Doris refuses it. A compressed
//! body is received and decompressed whole (bounded by the body limit), then
//! cut like a plain one.

use super::csv::LineSplitter;
use super::options::{Compression, Format, LoadOptions};
use axum::body::{Body, BodyDataStream};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use std::ops::Range;

/// Big enough to amortise a parser task, small enough that its arrays stay
/// in the allocator's reused memory instead of fresh pages.
const BLOCK_BYTES: usize = 8 << 20;

pub enum Block {
    /// Data lines, as ranges of `bytes`.
    Csv {
        bytes: Bytes,
        lines: Vec<Range<usize>>,
    },
    Json(Bytes),
}

pub struct BodyReader {
    stream: BodyDataStream,
    /// `streaming_load_max_mb` in bytes.
    limit: u64,
    /// `streaming_load_json_max_mb` in bytes, for JSON read as one document.
    json_limit: Option<u64>,
    /// Bytes received, as sent (Doris's LoadBytes).
    pub received: u64,
    compression: Option<Compression>,
    /// A decompressed body, handed out in slices instead of the network's chunks.
    decompressed: Option<Bytes>,
    /// `None` for JSON.
    splitter: Option<LineSplitter>,
    buf: BytesMut,
    eof: bool,
    /// Content-Length, to receive a whole body into one buffer without regrowing it.
    length: usize,
}

impl BodyReader {
    pub fn new(body: Body, opts: &LoadOptions, limit: u64, json_limit: u64) -> Self {
        Self {
            stream: body.into_data_stream(),
            limit,
            json_limit: (opts.format == Format::Json && !opts.read_json_by_line)
                .then_some(json_limit),
            received: 0,
            compression: opts.compress_type,
            decompressed: None,
            splitter: (opts.format != Format::Json).then(|| LineSplitter::new(opts)),
            buf: BytesMut::new(),
            eof: false,
            length: opts.content_length.unwrap_or(0).min(limit) as usize,
        }
    }

    /// The next block; `None` once the body is used up.
    pub async fn next(&mut self) -> Result<Option<Block>, String> {
        if self.compression.is_some() && self.decompressed.is_none() {
            let whole = self.whole().await?;
            let kind = self.compression;
            self.decompressed = Some(decompress(whole, kind, self.limit)?);
        }
        if self.splitter.is_none() {
            if self.eof {
                return Ok(None);
            }
            let whole = match self.decompressed.take() {
                Some(bytes) => bytes,
                None => self.whole().await?,
            };
            if let Some(max) = self.json_limit.filter(|max| whole.len() as u64 > *max) {
                // Its size as sent when known: reading stopped past the limit.
                let size = whole.len().max(self.length) as u64;
                return Err(json_too_big(size, max));
            }
            self.eof = true;
            return Ok(Some(Block::Json(whole)));
        }
        let mut want = BLOCK_BYTES;
        loop {
            while self.buf.len() < want && !self.eof {
                match self.chunk().await? {
                    Some(chunk) => {
                        if self.buf.capacity() - self.buf.len() < chunk.len() {
                            self.buf.reserve(BLOCK_BYTES.max(chunk.len()));
                        }
                        self.buf.extend_from_slice(&chunk);
                    }
                    None => self.eof = true,
                }
            }
            let splitter = self.splitter.as_mut().expect("CSV has a splitter");
            let mut lines = Vec::new();
            splitter.split(&self.buf, self.eof, &mut lines);
            if lines.is_empty() && !self.eof {
                // Only empty or skipped lines so far: drop them and read on.
                let done = splitter.rest();
                if done > 0 {
                    let _ = self.buf.split_to(done);
                    splitter.dropped(done);
                } else {
                    // One line longer than a block: read on.
                    want = self.buf.len() * 2;
                }
                continue;
            }
            let cut = splitter.rest();
            let bytes = self.buf.split_to(cut).freeze();
            splitter.dropped(cut);
            if lines.is_empty() {
                return Ok(None);
            }
            return Ok(Some(Block::Csv { bytes, lines }));
        }
    }

    /// The next piece of the body.
    async fn chunk(&mut self) -> Result<Option<Bytes>, String> {
        if let Some(rest) = &mut self.decompressed {
            let n = rest.len().min(1 << 20);
            return Ok((n > 0).then(|| rest.split_to(n)));
        }
        let Some(chunk) = self.stream.next().await else {
            return Ok(None);
        };
        let chunk = chunk.map_err(|e| format!("[INTERNAL_ERROR]receiving the body failed: {e}"))?;
        self.received += chunk.len() as u64;
        if self.received > self.limit {
            return Err(too_big(self.received, self.limit));
        }
        Ok(Some(chunk))
    }

    /// The rest of the body in one buffer (a JSON document only until it is
    /// past `streaming_load_json_max_mb`, which refuses it).
    async fn whole(&mut self) -> Result<Bytes, String> {
        let cap = match (self.compression, self.json_limit) {
            (None, Some(max)) => max,
            _ => u64::MAX,
        };
        let mut buf = BytesMut::with_capacity(self.length.min(cap as usize));
        while let Some(chunk) = self.chunk().await? {
            buf.extend_from_slice(&chunk);
            if buf.len() as u64 > cap {
                break;
            }
        }
        Ok(buf.freeze())
    }
}

/// Doris's words for a body over `streaming_load_max_mb`.
pub fn too_big(n: u64, max: u64) -> String {
    format!(
        "[EXCEEDED_LIMIT]body size {n} bytes ({:.2} MiB) exceeds the limit of {max} bytes ({} MiB) set by BE's conf streaming_load_max_mb. Increase it if you are sure this load is reasonable",
        n as f64 / (1 << 20) as f64,
        max >> 20
    )
}

/// Doris's words for a JSON document over `streaming_load_json_max_mb`.
fn json_too_big(n: u64, max: u64) -> String {
    format!(
        "[DATA_QUALITY_ERROR]The size of this batch exceed the max size [{max}]  of json type data  data [ {n} ]. Split the file, or use 'read_json_by_line'"
    )
}

/// The body as sent, before `compress_type`.
pub fn decompress(
    bytes: bytes::Bytes,
    kind: Option<Compression>,
    max_bytes: u64,
) -> Result<bytes::Bytes, String> {
    use std::io::Read;
    let Some(kind) = kind else {
        return Ok(bytes);
    };
    let reader: Box<dyn Read + '_> = match kind {
        Compression::Gz => Box::new(flate2::read::MultiGzDecoder::new(&bytes[..])),
        Compression::Deflate => Box::new(flate2::read::ZlibDecoder::new(&bytes[..])),
        Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(&bytes[..])),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(&bytes[..])
                .map_err(|e| format!("[INTERNAL_ERROR]decompressing the zstd body failed: {e}"))?,
        ),
        Compression::Bz2 => Box::new(bzip2::read::MultiBzDecoder::new(&bytes[..])),
    };
    // A small body must not expand past the body limit.
    let mut out = Vec::with_capacity((bytes.len() as u64 * 4).min(max_bytes) as usize);
    reader
        .take(max_bytes + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("[INTERNAL_ERROR]decompressing the {kind:?} body failed: {e}"))?;
    if out.len() as u64 > max_bytes {
        return Err(format!(
            "[EXCEEDED_LIMIT]the decompressed body exceeds the limit of {max_bytes} bytes set by BE's conf streaming_load_max_mb"
        ));
    }
    Ok(out.into())
}
