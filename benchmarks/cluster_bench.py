#!/usr/bin/env python3
"""Cluster benchmarks (issue: cluster): re-replication time after a backend
dies, and an aggregation-heavy query set on standalone vs a 3-BE cluster, with
the CPU each backend process used during the queries.

    .venv/bin/python benchmarks/cluster_bench.py [--rows N] [--runs K] [--bin-dir DIR]

Starts every process itself (real basalt, basalt-fe, basalt-be on 127.0.0.1)
and prints Markdown tables for benchmarks/RESULTS.md.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from harness import BE_PORTS, FE_PORTS, Cluster, Proc, connect, query

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCHEMA = """CREATE TABLE bench.t (
    dt DATE NOT NULL, id BIGINT NOT NULL, cust INT, region VARCHAR(16), qty INT, price DECIMAL(12, 2)
) DUPLICATE KEY(dt, id)
PARTITION BY RANGE(dt) (FROM ("2024-01-01") TO ("2024-05-01") INTERVAL 1 MONTH)
DISTRIBUTED BY HASH(id) BUCKETS 8
PROPERTIES ("replication_num" = "{replicas}")"""

LOAD = """INSERT INTO bench.t SELECT
    CAST(CONCAT('2024-0', CAST(value % 4 + 1 AS VARCHAR), '-1', CAST(value % 9 AS VARCHAR)) AS DATE), value,
    CAST(value % 50000 AS INT), CONCAT('r', CAST(value % 10 AS VARCHAR)),
    CAST(value % 50 AS INT), CAST(value % 100000 AS DECIMAL(12, 2)) / 100
FROM range({first}, {last})"""

QUERIES = {
    "Q1 group by region": "SELECT region, COUNT(*), SUM(qty), AVG(price) FROM bench.t GROUP BY region",
    "Q2 top customers": "SELECT cust, SUM(price) FROM bench.t GROUP BY cust ORDER BY 2 DESC LIMIT 10",
    "Q3 count distinct": "SELECT COUNT(DISTINCT cust) FROM bench.t",
    "Q4 filter + by day": "SELECT dt, SUM(qty * price) FROM bench.t WHERE region IN ('r1', 'r2') GROUP BY dt ORDER BY dt",
    "Q5 by month, region": "SELECT MONTH(dt), region, MAX(price), MIN(qty) FROM bench.t GROUP BY 1, 2",
}


def load(port, rows, replicas):
    conn = connect(port)
    query(conn, "CREATE DATABASE bench")
    query(conn, SCHEMA.format(replicas=replicas))
    step = 500_000
    started = time.time()
    for first in range(0, rows, step):
        query(conn, LOAD.format(first=first, last=min(rows, first + step)))
    return time.time() - started


def run_queries(port, runs):
    conn = connect(port)
    medians, answers = {}, {}
    for name, sql in QUERIES.items():
        answers[name] = sorted(map(str, query(conn, sql)))  # warm-up, and the answer
        times = []
        for _ in range(runs):
            t = time.time()
            query(conn, sql)
            times.append(time.time() - t)
        medians[name] = statistics.median(times)
    return medians, answers


def geomean(xs):
    xs = list(xs)
    p = 1.0
    for x in xs:
        p *= x
    return p ** (1 / len(xs))


def bench_queries(bin_dir, rows, runs):
    root = tempfile.mkdtemp(prefix="basalt-bench-")
    try:
        sa = Proc(f"{bin_dir}/basalt", ["--data-dir", f"{root}/sa", *FE_PORTS, *BE_PORTS], f"{root}/sa")
        load_sa = load(sa.ports["query_port"], rows, 1)
        time.sleep(11)  # a tablet report, so the planner knows row counts
        cpu0 = sa.cpu_seconds()
        sa_times, sa_answers = run_queries(sa.ports["query_port"], runs)
        sa_cpu = sa.cpu_seconds() - cpu0
        sa.stop()

        cl = Cluster(bin_dir, f"{root}/cluster", 3)
        load_cl = load(cl.port, rows, 3)
        time.sleep(11)
        cpu0 = [b.cpu_seconds() for b in cl.bes]
        fe0 = cl.fe.cpu_seconds()
        cl_times, cl_answers = run_queries(cl.port, runs)
        be_cpu = [b.cpu_seconds() - c for b, c in zip(cl.bes, cpu0)]
        fe_cpu = cl.fe.cpu_seconds() - fe0
        cl.stop()
        for name in QUERIES:
            assert sa_answers[name] == cl_answers[name], (
                f"{name}: standalone and cluster disagree:\n{sa_answers[name][:5]}\n{cl_answers[name][:5]}")

        print(f"\n{rows:,} rows; load: standalone {load_sa:.1f} s, 3-BE cluster (3 replicas) {load_cl:.1f} s; "
              f"median of {runs} runs after one warm-up; answers identical.\n")
        print("| query | standalone (s) | 3-BE cluster (s) | cluster / standalone |")
        print("|---|---|---|---|")
        for name in QUERIES:
            print(f"| {name} | {sa_times[name]:.3f} | {cl_times[name]:.3f} | {cl_times[name] / sa_times[name]:.2f} |")
        g_sa, g_cl = geomean(sa_times.values()), geomean(cl_times.values())
        print(f"| geometric mean | {g_sa:.3f} | {g_cl:.3f} | {g_cl / g_sa:.2f} |")
        print(f"\nCPU during the timed queries: standalone process {sa_cpu:.1f} s; cluster FE {fe_cpu:.1f} s, "
              + ", ".join(f"BE{k} {c:.1f} s" for k, c in enumerate(be_cpu)))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bench_rereplication(bin_dir, rows, delay):
    root = tempfile.mkdtemp(prefix="basalt-rerep-")
    try:
        flags = ["--heartbeat-interval-second", "1", "--tablet-checker-interval-ms", "200",
                 "--tablet-report-interval-second", "2", "--tablet-repair-delay-factor-second", str(delay)]
        cl = Cluster(bin_dir, root, 4, flags)
        load(cl.port, rows, 3)
        time.sleep(3)
        conn = connect(cl.port)
        victim = cl.backend_id(1)
        dist = query(conn, "ADMIN SHOW REPLICA DISTRIBUTION FROM bench.t")
        replicas, size = next((int(r[1]), int(r[2])) for r in dist if str(r[0]) == victim)
        started = time.time()
        cl.bes[1].kill9()
        detected = None
        while True:
            status = query(conn, "ADMIN SHOW REPLICA STATUS FROM bench.t")
            if detected is None:
                backends = query(conn, "SHOW BACKENDS")
                if any(str(b[0]) == victim and b[8] == "false" for b in backends):
                    detected = time.time() - started
            per_tablet = {}
            ok = True
            for r in status:
                if r[12] != "OK" or str(r[2]) == victim:
                    ok = False
                per_tablet[r[0]] = per_tablet.get(r[0], 0) + 1
            if ok and all(n == 3 for n in per_tablet.values()):
                break
            time.sleep(0.2)
        total = time.time() - started
        answer = query(conn, "SELECT COUNT(*) FROM bench.t")[0][0]
        assert answer == rows, f"{answer} rows after repair, expected {rows}"
        cl.stop()
        after_delay = total - delay
        print(f"\nRe-replication after kill -9 of one of 4 BEs ({rows:,} rows, 3 replicas, 32 tablets): "
              f"the dead BE held {replicas} replicas, {size / 2**20:.1f} MiB.\n")
        print("| step | seconds |")
        print("|---|---|")
        print(f"| detected dead (SHOW BACKENDS Alive=false) | {detected:.1f} |")
        print(f"| repair delay after the last answered heartbeat (tablet_repair_delay_factor_second) | {delay} |")
        print(f"| total from kill -9 until every tablet has 3 healthy replicas | {total:.1f} |")
        print(f"| of which after the repair delay (cloning {replicas} replicas) | {after_delay:.1f} |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--repair-delay", type=int, default=5)
    ap.add_argument("--skip-rereplication", action="store_true")
    ap.add_argument("--bin-dir", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", f"{ROOT}/target"), "release"))
    args = ap.parse_args()
    print(f"binaries: {args.bin_dir}; machine: {os.cpu_count()} cores, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
          f"{time.strftime('%Y-%m-%d')}; commit {subprocess.check_output(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD']).decode().strip()}")
    if not args.skip_rereplication:
        bench_rereplication(args.bin_dir, args.rows, args.repair_delay)
    bench_queries(args.bin_dir, args.rows, args.runs)


if __name__ == "__main__":
    main()
