"""Bitmap index: a 1%-selective equality on a low-cardinality column of a
10M-row table, with and without a bitmap index on that column, on
standalone Basalt. Both tables get the same rows; the query's answer is
checked equal."""
import argparse
import os
import random
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import BE_PORTS, FE_PORTS, Proc, connect, query, stream_load_csv, timed  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = """CREATE TABLE bench.{name} (k BIGINT NOT NULL, c INT, v BIGINT, s VARCHAR(16){index})
DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2"""
QUERY = "SELECT {select} FROM bench.{name} WHERE c = 42"


def generate(path, rows):
    if os.path.exists(path):
        return
    rng = random.Random(7)
    with open(path + ".tmp", "w") as f:
        chunk = []
        for k in range(rows):
            chunk.append(f"{k},{rng.randrange(100)},{k * 7 % 1000003},s{k % 99991}\n")
            if len(chunk) == 100_000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))
    os.rename(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--select", default="COUNT(*), SUM(v), MAX(s)", help="what the query selects")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--bin-dir", default=os.path.join(target, "release"))
    args = ap.parse_args()
    data = os.path.join(tempfile.gettempdir(), f"basalt-bitmap-{args.rows}.csv")
    generate(data, args.rows)
    root = tempfile.mkdtemp(prefix="basalt-bitmap-")
    server = Proc(f"{args.bin_dir}/basalt", ["--data-dir", f"{root}/sa", *FE_PORTS, *BE_PORTS],
                  f"{root}/sa")
    try:
        conn = connect(server.ports["query_port"])
        query(conn, "CREATE DATABASE bench")
        query(conn, TABLE.format(name="plain", index=""))
        query(conn, TABLE.format(name="indexed", index=", INDEX ic (c) USING BITMAP"))
        for name in ("plain", "indexed"):
            stream_load_csv(server.ports["http_port"], "bench", name, data)
        results = {name: timed(conn, QUERY.format(select=args.select, name=name), args.runs)
                   for name in ("plain", "indexed")}
        assert results["plain"][1] == results["indexed"][1], results
        print(f"{args.rows:,} rows, c has 100 values; query: "
              f"{QUERY.format(select=args.select, name='t')}")
        print(f"answer: {results['plain'][1][0]}")
        print("| table | query median (s) |")
        print("|---|---|")
        for name in ("plain", "indexed"):
            print(f"| {name} | {results[name][0]:.3f} |")
        print(f"without / with the index: {results['plain'][0] / results['indexed'][0]:.1f}x")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
