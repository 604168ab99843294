//! Pieces shared by the FE and the BE: Doris's type system and its Arrow mapping,
//! typed errors with stable codes, configuration loading, the tablet schema, bucket
//! hashing, and the control-RPC messages the FE sends to BEs.

pub mod bitmap;
pub mod bucket_shuffle;
pub mod config;
pub mod control_client;
pub mod deep_expr;
pub mod error;
pub mod hash;
pub mod hll;
pub mod load_rpc;
pub mod net;
pub mod partition;
pub mod rpc;
pub mod scan;
pub mod schema;
pub mod sink;
pub mod statistics;
pub mod tablet_writer;
pub mod types;

pub use error::{Error, ErrorKind, Result};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{create_udf, ColumnarValue, ScalarUDF, Volatility};

/// Doris's scalar functions that DataFusion lacks (BITMAP and HLL) and the
/// checked LARGEINT arithmetic plans call. The FE, every BE worker and Stream
/// Load's `columns` mappings register the same ones, so a plan fragment calls
/// them by name wherever it runs.
pub fn doris_udfs() -> Vec<ScalarUDF> {
    let mut out = bitmap::udfs();
    out.extend(hll::udfs());
    out.push(types::largeint_checked());
    out.push(int_div());
    out
}

/// `int_div(a, b)`: MySQL's and Doris's `a DIV b` on BIGINTs, truncated
/// toward zero, NULL for a zero divisor. DataFusion plans `DIV` but cannot
/// run it, and its `/` on integers is Doris's DOUBLE division.
fn int_div() -> ScalarUDF {
    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::Int64Type;
    scalar("int_div", vec![DataType::Int64; 2], DataType::Int64, |a| {
        let (n, d) = (
            a[0].as_primitive::<Int64Type>(),
            a[1].as_primitive::<Int64Type>(),
        );
        let out: Int64Array = n
            .iter()
            .zip(d.iter())
            .map(|(n, d)| match (n, d) {
                (Some(n), Some(d)) if d != 0 => n.checked_div(d).map(Some).ok_or_else(|| {
                    datafusion::common::DataFusionError::Execution(format!(
                        "Arithmetic overflow: {n} DIV {d} is out of BIGINT's range"
                    ))
                }),
                _ => Ok(None),
            })
            .collect::<DfResult<_>>()?;
        Ok(std::sync::Arc::new(out))
    })
}

/// A scalar UDF over whole arrays (its scalar arguments expanded).
pub(crate) fn scalar(
    name: &str,
    inputs: Vec<DataType>,
    output: DataType,
    f: impl Fn(&[ArrayRef]) -> DfResult<ArrayRef> + Send + Sync + 'static,
) -> ScalarUDF {
    create_udf(
        name,
        inputs,
        output,
        Volatility::Immutable,
        std::sync::Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            f(&arrays).map(ColumnarValue::Array)
        }),
    )
}

/// Doris's aggregate functions that DataFusion lacks (BITMAP and HLL).
pub fn doris_udafs() -> Vec<datafusion::logical_expr::AggregateUDF> {
    let mut out = bitmap::udafs();
    out.extend(hll::udafs());
    out
}

/// The stack of every runtime thread (tokio's default is 2 MiB). Parsing,
/// planning and evaluating an expression recurse once per level, and a
/// 2,000-term OR chain, which a BI tool's multi-select filter produces,
/// overflowed 2 MiB and aborted the whole process. Doris allows 10,000
/// children and a depth of 3,000 (`expr_children_limit`, `expr_depth_limit`).
/// A stack is address space, touched only as deep as a thread goes.
pub const THREAD_STACK_SIZE: usize = 256 << 20;

/// The deepest expression any process walks: the FE's parser never lets a
/// deeper one through, whatever `expr_depth_limit` says, and a BE refuses a
/// fragment that would build one. [`THREAD_STACK_SIZE`] holds it.
pub const MAX_EXPR_DEPTH: usize = 20_000;

/// A multi-threaded runtime's builder, with [`THREAD_STACK_SIZE`] stacks:
/// every runtime of every process is built from it.
pub fn runtime_builder(name: &str) -> tokio::runtime::Builder {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .thread_name(name)
        .thread_stack_size(THREAD_STACK_SIZE)
        .enable_all();
    builder
}

/// A binary's `main`: logging, the runtime, `run` on it, and on an error a
/// message prefixed with `name` and exit status 1.
pub fn run_process(name: &str, run: impl std::future::Future<Output = Result<()>>) {
    init_logging();
    let result = match runtime_builder(name).build() {
        Ok(rt) => rt.block_on(run),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = result {
        eprintln!("{name}: {e}");
        std::process::exit(1);
    }
}

/// Reported as `VERSION()` / `@@version`; MySQL clients gate features on it.
pub const MYSQL_SERVER_VERSION: &str = "5.7.99";

/// The build shown in `@@version_comment`.
pub fn version_comment() -> String {
    format!("Basalt {} (Doris compatible)", env!("CARGO_PKG_VERSION"))
}

/// Initialise logging once per process; `RUST_LOG` overrides the default level.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Resolves on SIGTERM or Ctrl-C.
/// Sleeps `interval` unless `shutdown` turns true first; false means stop.
/// The shape of every periodic FE loop (heartbeats, tablet scheduler).
pub async fn sleep_or_shutdown(
    interval: std::time::Duration,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(interval) => true,
        _ = shutdown.wait_for(|s| *s) => false,
    }
}

pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The header that carries a query's `exec_mem_limit` to the BE fragments.
pub const EXEC_MEM_LIMIT_HEADER: &str = "x-basalt-exec-mem-limit";

/// A runtime whose memory pool holds a query (FE) or fragment (BE) to
/// `exec_mem_limit` bytes. Like Doris, it fails rather than spilling to disk.
pub fn limited_runtime(
    limit: usize,
) -> std::sync::Arc<datafusion::execution::runtime_env::RuntimeEnv> {
    use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
    datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_memory_pool(std::sync::Arc::new(
            datafusion::execution::memory_pool::GreedyMemoryPool::new(limit),
        ))
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()
        .unwrap_or_default()
}
