"""UNIQUE KEY merge-on-write vs merge-on-read: the same overlapping upsert
loads into one table of each mode on standalone Basalt, then the time of a
scan-and-aggregate query on each. Compaction is off, so both read every
version: merge-on-read merges keys across them, merge-on-write skips the
replaced rows by their delete bitmaps."""
import argparse
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import BE_PORTS, FE_PORTS, Proc, connect, query, stream_load_csv, timed  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = """CREATE TABLE bench.{name} (k BIGINT NOT NULL, v BIGINT, s VARCHAR(16))
UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2
PROPERTIES ("enable_unique_key_merge_on_write" = "{mow}")"""
QUERY = "SELECT COUNT(*), SUM(v), MAX(s) FROM bench.{name}"


def write_load(path, keys, load):
    with open(path, "w") as f:
        f.write("".join(f"{k},{load * 1000 + k % 1000},s{k % 97}_{load}\n" for k in keys))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=2_000_000)
    ap.add_argument("--loads", type=int, default=20, help="upsert loads after the first")
    ap.add_argument("--fraction", type=float, default=0.25, help="keys each upsert load touches")
    ap.add_argument("--runs", type=int, default=5)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--bin-dir", default=os.path.join(target, "release"))
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="basalt-unique-")
    server = Proc(f"{args.bin_dir}/basalt",
                  ["--data-dir", f"{root}/sa", "--disable-auto-compaction", "true",
                   *FE_PORTS, *BE_PORTS], f"{root}/sa")
    try:
        conn = connect(server.ports["query_port"])
        query(conn, "CREATE DATABASE bench")
        for name, mow in (("mow", "true"), ("mor", "false")):
            query(conn, TABLE.format(name=name, mow=mow))
        rng = random.Random(7)
        path = os.path.join(root, "load.csv")
        load_s = {"mow": 0.0, "mor": 0.0}
        for load in range(args.loads + 1):
            if load == 0:
                keys = range(args.keys)
            else:
                keys = sorted(rng.sample(range(args.keys), int(args.keys * args.fraction)))
            write_load(path, keys, load)
            for name in ("mow", "mor"):
                started = time.time()
                stream_load_csv(server.ports["http_port"], "bench", name, path)
                load_s[name] += time.time() - started
        results = {}
        for name in ("mow", "mor"):
            results[name] = timed(conn, QUERY.format(name=name), args.runs)
        assert results["mow"][1] == results["mor"][1], results
        count = results["mow"][1][0][0]
        assert count == args.keys, count
        print(f"{args.keys:,} keys, 1 + {args.loads} loads of {args.fraction:.0%} of the keys, "
              f"compaction off; query: {QUERY.format(name='t')}")
        print("| table | loads total (s) | query median (s) |")
        print("|---|---|---|")
        for name, label in (("mow", "merge-on-write"), ("mor", "merge-on-read")):
            print(f"| {label} | {load_s[name]:.1f} | {results[name][0]:.3f} |")
        print(f"merge-on-read / merge-on-write: {results['mor'][0] / results['mow'][0]:.1f}x")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
