"""Concurrent MySQL clients on standalone Basalt: a dashboard-like mix of
TPC-H queries (q03, q06, q12, q14, q19) at a scale factor, and point lookups
by full key on a UNIQUE KEY table, each for a fixed time with 1, 8 and 32
clients. QPS and latency percentiles come from HDR histograms kept by the
Rust client `basalt-concurrency` (benchmarks/src/bin/concurrency.rs)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import suite as suites  # noqa: E402
from harness import BE_PORTS, FE_PORTS, Proc, connect, query  # noqa: E402

MIX = ["q03", "q06", "q12", "q14", "q19"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sf", type=float, default=1)
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--keys", type=int, default=1_000_000, help="rows of the point-lookup table")
    ap.add_argument("--data-dir", default=suites.default_data_dir())
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(suites.ROOT, "target"))
    ap.add_argument("--bin-dir", default=os.path.join(target, "release"))
    args = ap.parse_args()

    suite = suites.TPCH
    data = suite.data(args.data_dir, args.sf)
    kv = os.path.join(args.data_dir, f"kv-{args.keys}.csv")
    if not os.path.exists(kv):
        with open(kv + ".tmp", "w") as f:
            f.writelines(f"{k},value-{k * 7919 % 100003},{k * 31}\n" for k in range(args.keys))
        os.rename(kv + ".tmp", kv)

    root = tempfile.mkdtemp(prefix="basalt-concurrency-")
    server = Proc(f"{args.bin_dir}/basalt", ["--data-dir", f"{root}/sa", *FE_PORTS, *BE_PORTS],
                  f"{root}/sa")
    try:
        port, http = server.ports["query_port"], server.ports["http_port"]
        conn = connect(port)
        suites.create_and_load(conn, http, suite, data, "tpch", 8)
        query(conn, "CREATE TABLE tpch.kv (k BIGINT NOT NULL, v VARCHAR(32), n BIGINT) "
                    "UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 8")
        out = subprocess.check_output(
            ["curl", "-sS", "--location-trusted", "-u", "root:", "-T", kv,
             "-H", "column_separator: ,", f"http://127.0.0.1:{http}/api/tpch/kv/_stream_load"])
        assert json.loads(out)["Status"] == "Success", out
        tool = os.path.join(args.bin_dir, "concurrency")
        mix = [os.path.join(suites.QUERIES, "tpch", f"{q}.sql") for q in MIX]
        workloads = {
            "tpch mix": [a for q in mix for a in ("--queries", q)],
            "point lookup": ["--lookup", "SELECT v, n FROM kv WHERE k = ?", "--keys",
                             str(args.keys)],
        }
        results = []
        for name, flags in workloads.items():
            for n in args.clients.split(","):
                r = json.loads(subprocess.check_output(
                    [tool, "--port", str(port), "--db", "tpch", "--clients", n,
                     "--seconds", str(args.seconds), *flags]))
                r["workload"] = name
                results.append(r)
                print(json.dumps(r), file=sys.stderr, flush=True)
        print(f"TPC-H SF {args.sf:g} mix ({', '.join(MIX)}) and point lookups on "
              f"{args.keys:,} keys; {args.seconds} s per run")
        print("| workload | clients | statements | QPS | p50 ms | p95 ms | p99 ms | max ms |")
        print("|---|---|---|---|---|---|---|---|")
        for r in results:
            print(f"| {r['workload']} | {r['clients']} | {r['statements']} | {r['qps']:.1f} | "
                  f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | "
                  f"{r['max_ms']:.1f} |")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
