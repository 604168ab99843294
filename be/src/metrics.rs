//! The BE's counters, served at `GET /metrics` in Prometheus's text format
//! (as Doris's BE does): where load time goes, for operators and benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Time spent writing segments, by step, and rows written.
pub static SEGMENT_SORT_NS: AtomicU64 = AtomicU64::new(0);
pub static SEGMENT_ENCODE_NS: AtomicU64 = AtomicU64::new(0);
pub static SEGMENT_FSYNC_NS: AtomicU64 = AtomicU64::new(0);
pub static SEGMENT_ROWS: AtomicU64 = AtomicU64::new(0);
/// Time Stream Loads spent reading and converting their bodies, and rows loaded.
pub static STREAM_LOAD_READ_NS: AtomicU64 = AtomicU64::new(0);
pub static STREAM_LOAD_ROWS: AtomicU64 = AtomicU64::new(0);
/// Segment writes of loads, by how the rows came: from this backend's own
/// load in process, or over RPC from another coordinator.
pub static LOCAL_SEGMENT_WRITES: AtomicU64 = AtomicU64::new(0);
pub static RPC_SEGMENT_WRITES: AtomicU64 = AtomicU64::new(0);

/// Compaction activity by type (0 base, 1 cumulative), with Doris's metric
/// names: input rowsets merged, and their bytes.
pub static COMPACTION_DELTAS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
pub static COMPACTION_BYTES: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Adds the time since `since` to `counter`.
pub fn add_elapsed(counter: &AtomicU64, since: Instant) {
    counter.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
}

pub fn render() -> String {
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let secs = |c: &AtomicU64| get(c) as f64 / 1e9;
    format!(
        "# TYPE basalt_be_segment_write_seconds_total counter\n\
         basalt_be_segment_write_seconds_total{{step=\"sort\"}} {}\n\
         basalt_be_segment_write_seconds_total{{step=\"encode\"}} {}\n\
         basalt_be_segment_write_seconds_total{{step=\"fsync\"}} {}\n\
         # TYPE basalt_be_segment_rows_total counter\n\
         basalt_be_segment_rows_total {}\n\
         # TYPE basalt_be_stream_load_read_seconds_total counter\n\
         basalt_be_stream_load_read_seconds_total {}\n\
         # TYPE basalt_be_stream_load_rows_total counter\n\
         basalt_be_stream_load_rows_total {}\n\
         # TYPE basalt_be_load_segment_writes_total counter\n\
         basalt_be_load_segment_writes_total{{via=\"local\"}} {}\n\
         basalt_be_load_segment_writes_total{{via=\"rpc\"}} {}\n\
         # TYPE basalt_be_compaction_deltas_total counter\n\
         basalt_be_compaction_deltas_total{{type=\"base\"}} {}\n\
         basalt_be_compaction_deltas_total{{type=\"cumulative\"}} {}\n\
         # TYPE basalt_be_compaction_bytes_total counter\n\
         basalt_be_compaction_bytes_total{{type=\"base\"}} {}\n\
         basalt_be_compaction_bytes_total{{type=\"cumulative\"}} {}\n",
        secs(&SEGMENT_SORT_NS),
        secs(&SEGMENT_ENCODE_NS),
        secs(&SEGMENT_FSYNC_NS),
        get(&SEGMENT_ROWS),
        secs(&STREAM_LOAD_READ_NS),
        get(&STREAM_LOAD_ROWS),
        get(&LOCAL_SEGMENT_WRITES),
        get(&RPC_SEGMENT_WRITES),
        get(&COMPACTION_DELTAS[0]),
        get(&COMPACTION_DELTAS[1]),
        get(&COMPACTION_BYTES[0]),
        get(&COMPACTION_BYTES[1]),
    )
}
