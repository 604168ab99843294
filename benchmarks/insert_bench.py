"""INSERT ... VALUES with DECIMAL and LARGEINT columns on standalone Basalt:
one statement of 10,000 rows, and 100 statements of 100 rows, each timed
over the MySQL wire (pymysql), median of --runs. Also counts the rows whose
DECIMAL(27, 9) and LARGEINT values read back exactly as written, which a
build that parses literals through DOUBLE does not."""
import argparse
import os
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import BE_PORTS, FE_PORTS, Proc, connect, query  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rows(rng, first, n):
    """n rows from id `first`: (id, DECIMAL(27, 9) text, LARGEINT text, DECIMAL(10, 2) text)."""
    out = []
    for k in range(first, first + n):
        d = f"{rng.randrange(10**17, 10**18)}.{rng.randrange(10**9):09d}"
        l = str(rng.randrange(-10**37, 10**37))
        s = f"{rng.randrange(10**8)}.{rng.randrange(100):02d}"
        out.append((k, d if k % 2 else "-" + d, l, s))
    return out


def insert(conn, batch):
    values = ", ".join(f"({k}, {d}, {l}, {s})" for k, d, l, s in batch)
    query(conn, f"INSERT INTO bench.n VALUES {values}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--bin-dir", default=os.path.join(target, "release"))
    args = ap.parse_args()
    rng = random.Random(31)
    root = tempfile.mkdtemp(prefix="basalt-insert-")
    server = Proc(f"{args.bin_dir}/basalt", ["--data-dir", f"{root}/sa", *FE_PORTS, *BE_PORTS],
                  f"{root}/sa")
    try:
        conn = connect(server.ports["query_port"])
        query(conn, "CREATE DATABASE bench")
        query(conn, "CREATE TABLE bench.n (id INT NOT NULL, d DECIMAL(27, 9), l LARGEINT, "
                    "s DECIMAL(10, 2)) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 4")
        written = {}
        one, many = [], []
        next_id = 0
        for _ in range(args.runs):
            batch = rows(rng, next_id, 10_000)
            next_id += 10_000
            started = time.time()
            insert(conn, batch)
            one.append(time.time() - started)
            written.update({k: (d, l, s) for k, d, l, s in batch})
            batches = [rows(rng, next_id + i * 100, 100) for i in range(100)]
            next_id += 10_000
            started = time.time()
            for b in batches:
                insert(conn, b)
            many.append(time.time() - started)
            for b in batches:
                written.update({k: (d, l, s) for k, d, l, s in b})
        got = query(conn, "SELECT id, CAST(d AS VARCHAR), CAST(l AS VARCHAR), CAST(s AS VARCHAR) "
                          "FROM bench.n")
        exact = sum(1 for k, d, l, s in got if written.get(k) == (d, l, s))
        print(f"INSERT ... VALUES into (INT, DECIMAL(27, 9), LARGEINT, DECIMAL(10, 2)), "
              f"median of {args.runs}")
        print("| case | seconds | rows/s |")
        print("|---|---|---|")
        m1, m2 = statistics.median(one), statistics.median(many)
        print(f"| 1 statement x 10,000 rows | {m1:.3f} | {10_000 / m1:.0f} |")
        print(f"| 100 statements x 100 rows | {m2:.3f} | {10_000 / m2:.0f} |")
        print(f"rows read back exactly: {exact} of {len(written)} (rows stored: {len(got)})")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
