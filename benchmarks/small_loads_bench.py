"""Sustained small loads into one tablet: back-to-back Stream Loads of a few
rows each (one writer, or several concurrent ones) into a one-bucket table on
standalone Basalt, with compaction on. Reports loads/s and rows/s, and the
tablet's rowset count (VersionCount) sampled throughout, which compaction
must keep bounded."""
import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

import requests

sys.path.insert(0, os.path.dirname(__file__))
from harness import BE_PORTS, FE_PORTS, Proc, connect, query  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def writer(http_port, table, loads, rows, first_key, latencies, errors):
    try:
        load_all(http_port, table, loads, rows, first_key, latencies)
    except Exception as e:  # noqa: BLE001 - reported by main
        errors.append(e)


def load_all(http_port, table, loads, rows, first_key, latencies):
    # Straight at the BE (the standalone's webserver port): no FE redirect.
    s = requests.Session()
    s.auth = ("root", "")
    url = f"http://127.0.0.1:{http_port}/api/bench/{table}/_stream_load"
    for i in range(loads):
        k0 = first_key + i * rows
        body = "".join(f"{k0 + j},{j},{i}\n" for j in range(rows))
        started = time.time()
        r = s.put(url, data=body, headers={"column_separator": ","})
        latencies.append(time.time() - started)
        answer = r.json()
        assert answer["Status"] == "Success", answer


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loads", type=int, default=2000, help="loads per writer")
    ap.add_argument("--rows", type=int, default=10, help="rows per load")
    ap.add_argument("--writers", type=int, default=1)
    ap.add_argument("--model", default="UNIQUE", choices=["DUPLICATE", "UNIQUE"])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--bin-dir", default=os.path.join(target, "release"))
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="basalt-small-loads-")
    server = Proc(f"{args.bin_dir}/basalt", ["--data-dir", f"{root}/sa", *FE_PORTS, *BE_PORTS],
                  f"{root}/sa")
    try:
        conn = connect(server.ports["query_port"])
        query(conn, "CREATE DATABASE bench")
        query(conn, f"CREATE TABLE bench.t (k BIGINT NOT NULL, v INT, n INT) {args.model} KEY(k) "
                    "DISTRIBUTED BY HASH(k) BUCKETS 1")
        counts = []
        done = threading.Event()

        def sample():
            c = connect(server.ports["query_port"])
            while not done.is_set():
                counts.append(int(query(c, "SHOW TABLETS FROM bench.t")[0][15]))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample)
        sampler.start()
        latencies, errors = [], []
        threads = [threading.Thread(target=writer, args=(server.ports["webserver_port"], "t",
                                                         args.loads, args.rows,
                                                         w * args.loads * args.rows,
                                                         latencies, errors))
                   for w in range(args.writers)]
        started = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.time() - started
        done.set()
        sampler.join()
        assert not errors, errors
        total = args.loads * args.writers
        got = query(conn, "SELECT COUNT(*) FROM bench.t")[0][0]
        assert got == total * args.rows, (got, total * args.rows)
        latencies.sort()
        print(f"{args.writers} writer(s) x {args.loads} Stream Loads of {args.rows} rows into a "
              f"one-tablet {args.model} KEY table, compaction on")
        print(f"| loads/s | rows/s | p50 ms | p99 ms | VersionCount max | VersionCount mean |")
        print("|---|---|---|---|---|---|")
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
        print(f"| {total / seconds:.0f} | {total * args.rows / seconds:.0f} | {p(0.5):.1f} | "
              f"{p(0.99):.1f} | {max(counts)} | {statistics.mean(counts):.1f} |")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
