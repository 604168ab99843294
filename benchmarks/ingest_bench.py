#!/usr/bin/env python3
"""Ingest benchmark (issue: Stream Load): one Stream Load of a generated TPC-H
lineitem CSV into a DUPLICATE KEY table, on standalone Basalt and on a 3-BE
cluster with 1 and 3 replicas, next to DuckDB's read_csv into a native table
on the same file in the same run.

    .venv/bin/python benchmarks/ingest_bench.py [--scale 1.5] [--bin-dir DIR] [--work DIR]

Installs tpchgen-cli and duckdb into the virtualenv it runs from when they are
missing, starts every Basalt process itself (127.0.0.1), checks that every
row arrived, and prints Markdown tables for benchmarks/RESULTS.md: MB/s,
rows/s, peak backend memory, and where the backend's time went.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from harness import BE_PORTS, FE_PORTS, Cluster, Proc, connect, query

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TABLE = """CREATE TABLE bench.lineitem (
    l_orderkey BIGINT NOT NULL, l_partkey INT NOT NULL, l_suppkey INT NOT NULL,
    l_linenumber INT NOT NULL, l_quantity DECIMAL(15, 2), l_extendedprice DECIMAL(15, 2),
    l_discount DECIMAL(15, 2), l_tax DECIMAL(15, 2), l_returnflag CHAR(1), l_linestatus CHAR(1),
    l_shipdate DATE, l_commitdate DATE, l_receiptdate DATE, l_shipinstruct CHAR(25),
    l_shipmode CHAR(10), l_comment VARCHAR(44)
) DUPLICATE KEY(l_orderkey, l_partkey)
DISTRIBUTED BY HASH(l_orderkey) BUCKETS 8
PROPERTIES ("replication_num" = "{replicas}")"""

HEADERS = ["format: csv_with_names", "column_separator: ,", 'enclose: "', "timeout: 3600"]


def ensure(package, present):
    if not present():
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", package])


def has_module(name):
    try:
        __import__(name)
        return True
    except ImportError:
        return False


def generate(work, scale):
    path = os.path.join(work, "lineitem.csv")
    if not os.path.exists(path):
        tool = os.path.join(os.path.dirname(sys.executable), "tpchgen-cli")
        subprocess.check_call([tool, "csv", "-s", str(scale), "--tables", "lineitem",
                               f"--output-dir={work}"])
    with open(path, "rb") as f:
        rows = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b"")) - 1
    return path, rows


def duckdb_load(path):
    import duckdb
    con = duckdb.connect()
    con.execute(f"SET threads = {os.cpu_count()}")
    started = time.time()
    con.execute(f"CREATE TABLE lineitem AS SELECT * FROM read_csv('{path}')")
    seconds = time.time() - started
    rows = con.execute("SELECT COUNT(*) FROM lineitem").fetchone()[0]
    return seconds, rows


def metrics(webserver_port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{webserver_port}/metrics").read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def stream_load(http_port, path):
    args = ["curl", "-sS", "--location-trusted", "-u", "root:", "-T", path]
    for h in HEADERS:
        args += ["-H", h]
    args.append(f"http://127.0.0.1:{http_port}/api/bench/lineitem/_stream_load")
    started = time.time()
    out = subprocess.check_output(args)
    seconds = time.time() - started
    answer = json.loads(out)
    assert answer["Status"] == "Success", answer
    return seconds, answer


def basalt_load(query_port, http_port, path, replicas, bes):
    conn = connect(query_port)
    query(conn, "CREATE DATABASE bench")
    query(conn, TABLE.format(replicas=replicas))
    before = [metrics(b.ports["webserver_port"]) for b in bes]
    seconds, answer = stream_load(http_port, path)
    after = [metrics(b.ports["webserver_port"]) for b in bes]
    rows = query(conn, "SELECT COUNT(*) FROM bench.lineitem")[0][0]
    steps = {}
    for b, a in zip(before, after):
        for name in a:
            steps[name] = steps.get(name, 0) + a[name] - b.get(name, 0)
    return seconds, answer, rows, steps, [b.peak_rss_mib() for b in bes]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.5, help="TPC-H scale factor (1.5: about 1.1 GB)")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--bin-dir", default=os.path.join(target, "release"))
    ap.add_argument("--work", default=None, help="where the CSV is generated (kept between runs)")
    ap.add_argument("--runs", default="duckdb,standalone,cluster1,cluster3",
                    help="which loads to run (comma-separated)")
    args = ap.parse_args()
    ensure("duckdb", lambda: has_module("duckdb"))
    tool = os.path.join(os.path.dirname(sys.executable), "tpchgen-cli")
    ensure("tpchgen-cli", lambda: os.path.exists(tool))
    work = args.work or os.path.join(tempfile.gettempdir(), f"basalt-ingest-sf{args.scale}")
    os.makedirs(work, exist_ok=True)
    path, rows = generate(work, args.scale)
    size = os.path.getsize(path)
    mb = size / 1e6
    print(f"lineitem.csv: {size / 2**30:.2f} GiB, {rows:,} rows (TPC-H SF {args.scale})", flush=True)

    runs = args.runs.split(",")
    results = []
    duck_s = float("nan")
    if "duckdb" in runs:
        duck_s, duck_rows = duckdb_load(path)
        assert duck_rows == rows, (duck_rows, rows)
        results.append(("DuckDB read_csv -> native table", duck_s, None, None, {}))
        print(f"duckdb: {duck_s:.1f} s", flush=True)

    root = tempfile.mkdtemp(prefix="basalt-ingest-")
    try:
        if "standalone" in runs:
            sa = Proc(f"{args.bin_dir}/basalt", ["--data-dir", f"{root}/sa", *FE_PORTS, *BE_PORTS],
                      f"{root}/sa")
            s, answer, got, steps, mem = basalt_load(
                sa.ports["query_port"], sa.ports["http_port"], path, 1, [sa])
            assert got == rows, (got, rows)
            results.append(("Basalt standalone", s, answer, mem, steps))
            print(f"standalone: {s:.1f} s", flush=True)
            sa.stop()
        for replicas in [r for r in (1, 3) if f"cluster{r}" in runs]:
            cl = Cluster(args.bin_dir, f"{root}/cluster{replicas}", 3)
            s, answer, got, steps, mem = basalt_load(
                cl.port, cl.fe.ports["http_port"], path, replicas, cl.bes)
            assert got == rows, (got, rows)
            results.append((f"Basalt 3 BEs, {replicas} replica(s)", s, answer, mem, steps))
            print(f"cluster, {replicas} replicas: {s:.1f} s", flush=True)
            cl.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    commit = subprocess.check_output(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).decode().strip()
    print(f"\n{time.strftime('%Y-%m-%d')}, commit {commit}, {os.cpu_count()} cores; "
          f"{size / 2**30:.2f} GiB, {rows:,} rows; one Stream Load (curl) per run.\n")
    print("| engine | seconds | MB/s | rows/s | vs DuckDB | peak BE memory (MiB) |")
    print("|---|---|---|---|---|---|")
    for name, s, _, mem, _ in results:
        mem_text = ", ".join(f"{m:.0f}" for m in mem) if mem else "-"
        print(f"| {name} | {s:.1f} | {mb / s:.1f} | {rows / s:,.0f} | {duck_s / s:.2f}x | {mem_text} |")
    print("\nWhere the time went (seconds; backend counters summed over backends, "
          "Stream Load response fields from the coordinating backend):\n")
    print("| engine | read + parse + convert | sort | encode (Parquet) | fsync | write phase (response) | commit + publish |")
    print("|---|---|---|---|---|---|---|")
    sort = 'basalt_be_segment_write_seconds_total{step="sort"}'
    encode = 'basalt_be_segment_write_seconds_total{step="encode"}'
    fsync = 'basalt_be_segment_write_seconds_total{step="fsync"}'
    for name, s, answer, _, steps in [r for r in results if r[2]]:
        read = steps.get("basalt_be_stream_load_read_seconds_total", 0.0)
        print(f"| {name} | {read:.1f} | {steps.get(sort, 0.0):.1f} | {steps.get(encode, 0.0):.1f} "
              f"| {steps.get(fsync, 0.0):.1f} | {answer['WriteDataTimeMs'] / 1000:.1f} "
              f"| {answer['CommitAndPublishTimeMs'] / 1000:.1f} |")


if __name__ == "__main__":
    main()
