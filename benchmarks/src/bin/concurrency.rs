//! N concurrent MySQL clients against a running Basalt for a fixed time:
//! each loops over its workload (a list of queries, or point lookups by full
//! key through a prepared statement) and records every statement's latency
//! in an HDR histogram. Prints one JSON line: clients, statements, QPS and
//! the latency percentiles (ms). `benchmarks/concurrency.py` sets up the
//! data and runs this for each client count.

use hdrhistogram::Histogram;
use mysql_async::prelude::Queryable;
use rand::Rng;
use std::time::{Duration, Instant};

struct Args {
    url: String,
    clients: usize,
    seconds: u64,
    /// Queries to loop over, or `None` for point lookups.
    queries: Option<Vec<String>>,
    /// Point lookups: `SELECT ... WHERE key = ?` over keys `0..keys`.
    lookup: String,
    keys: i64,
}

fn usage() -> ! {
    eprintln!(
        "usage: concurrency --port P [--db DB] --clients N --seconds S \
         (--queries FILE... | --lookup SQL --keys N)\n\
         Runs N MySQL clients for S seconds and prints QPS and latency percentiles as JSON."
    );
    std::process::exit(2)
}

fn parse() -> Args {
    let mut argv = std::env::args().skip(1);
    let (mut port, mut db, mut clients, mut seconds) = (None, String::new(), 1, 10);
    let (mut files, mut lookup, mut keys) = (Vec::new(), None, 0);
    while let Some(a) = argv.next() {
        let mut value = || argv.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--port" => port = value().parse().ok(),
            "--db" => db = value(),
            "--clients" => clients = value().parse().unwrap_or_else(|_| usage()),
            "--seconds" => seconds = value().parse().unwrap_or_else(|_| usage()),
            "--queries" => files.push(value()),
            "--lookup" => lookup = Some(value()),
            "--keys" => keys = value().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let port: u16 = port.unwrap_or_else(|| usage());
    let queries = match (files.is_empty(), &lookup) {
        (false, None) => Some(
            files
                .iter()
                .map(|f| std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{f}: {e}")))
                .collect(),
        ),
        (true, Some(_)) if keys > 0 => None,
        _ => usage(),
    };
    Args {
        url: format!("mysql://root@127.0.0.1:{port}/{db}"),
        clients,
        seconds,
        queries,
        lookup: lookup.unwrap_or_default(),
        keys,
    }
}

/// One client: statements until the deadline, their latencies in µs.
async fn client(args: &Args, n: usize, deadline: Instant) -> Histogram<u64> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("bounds");
    let mut conn = mysql_async::Conn::from_url(args.url.as_str())
        .await
        .expect("connect");
    let lookup = match args.queries {
        None => Some(conn.prep(args.lookup.as_str()).await.expect("prepare")),
        Some(_) => None,
    };
    let mut i = n;
    while Instant::now() < deadline {
        let started = Instant::now();
        match (&args.queries, &lookup) {
            (Some(queries), _) => {
                let rows: Vec<mysql_async::Row> = conn
                    .query(queries[i % queries.len()].as_str())
                    .await
                    .expect("query");
                assert!(!rows.is_empty(), "a query of the mix answered nothing");
            }
            (None, Some(stmt)) => {
                let key = rand::rng().random_range(0..args.keys);
                let rows: Vec<mysql_async::Row> = conn.exec(stmt, (key,)).await.expect("lookup");
                assert_eq!(rows.len(), 1, "key {key}");
            }
            (None, None) => unreachable!(),
        }
        hist.record(started.elapsed().as_micros().max(1) as u64)
            .expect("in bounds");
        i += 1;
    }
    let _ = conn.disconnect().await;
    hist
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: &'static Args = Box::leak(Box::new(parse()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let clients: Vec<_> = (0..args.clients)
        .map(|n| tokio::spawn(client(args, n, deadline)))
        .collect();
    let mut all = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("bounds");
    for c in clients {
        all.add(c.await.expect("client")).expect("same bounds");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
    let out = serde_json::json!({
        "clients": args.clients,
        "statements": all.len(),
        "seconds": elapsed,
        "qps": all.len() as f64 / elapsed,
        "p50_ms": ms(0.50),
        "p95_ms": ms(0.95),
        "p99_ms": ms(0.99),
        "max_ms": all.max() as f64 / 1000.0,
    });
    println!("{out}");
}
