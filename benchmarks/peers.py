"""The benchmark queries on the reference engines, on this machine in the
same run as Basalt: DuckDB on its own tables and on Parquet, DataFusion's
Python package on Parquet, and chDB on Parquet. Prints each engine's
per-query medians and the ratio Basalt / engine per query and in geometric
mean, Basalt's figures coming from a `suite.py --json` file of the same run.
The engines are installed into the project's virtualenv on first use."""
import argparse
import json
import math
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import suite as suites  # noqa: E402

ENGINES = ["duckdb", "duckdb-parquet", "datafusion", "chdb"]


def ensure(module, package):
    try:
        __import__(module)
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", package])


def parquet_files(suite, data):
    """One Parquet file per table, converted by DuckDB from the same data
    files Basalt loads (and `lineorder_flat` from the same join)."""
    out = os.path.join(data, "parquet")
    if os.path.exists(os.path.join(out, "done")):
        return out
    os.makedirs(out, exist_ok=True)
    con = native(suite, data)
    for (name,) in con.execute("SHOW TABLES").fetchall():
        con.execute(f"COPY {name} TO '{out}/{name}.parquet' (FORMAT parquet)")
    open(os.path.join(out, "done"), "w").close()
    return out


def native(suite, data):
    import duckdb
    con = duckdb.connect()
    suites.duckdb_load(con, suite, data)
    return con


def timed(run, sql, runs):
    run(sql)
    times = []
    for _ in range(runs):
        t = time.time()
        run(sql)
        times.append(time.time() - t)
    times.sort()
    return times[len(times) // 2]


def engine(name, suite, data, parquet):
    """A function running one query to completion on `name`."""
    tables = [f.rsplit(".", 1)[0] for f in os.listdir(parquet) if f.endswith(".parquet")]
    if name == "duckdb":
        con = native(suite, data)
        return lambda sql: con.execute(sql).fetchall()
    if name == "duckdb-parquet":
        import duckdb
        con = duckdb.connect()
        for t in tables:
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM '{parquet}/{t}.parquet'")
        return lambda sql: con.execute(sql).fetchall()
    if name == "datafusion":
        ensure("datafusion", "datafusion")
        import datafusion
        ctx = datafusion.SessionContext()
        for t in tables:
            ctx.register_parquet(t, f"{parquet}/{t}.parquet")
        return lambda sql: ctx.sql(sql).collect()
    if name == "chdb":
        ensure("chdb", "chdb")
        from chdb import session
        s = session.Session()
        s.query("CREATE DATABASE IF NOT EXISTS bench")
        for t in tables:
            s.query(f"CREATE OR REPLACE VIEW bench.{t} AS "
                    f"SELECT * FROM file('{parquet}/{t}.parquet', Parquet)")
        s.query("USE bench")
        return lambda sql: s.query(sql, "Null")
    raise ValueError(name)


def geomean(xs):
    return math.exp(sum(math.log(max(x, 1e-4)) for x in xs) / len(xs)) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=sorted(suites.SUITES), default="tpch")
    ap.add_argument("--sf", type=float, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--basalt", action="append", default=[], metavar="LABEL=JSON",
                    help="a suite.py --json result to compare, e.g. standalone=sa.json")
    ap.add_argument("--run-basalt", default="", metavar="0,3",
                    help="first run suite.py (release build) on standalone (0) and/or a cluster "
                         "of this many BEs, and compare those")
    ap.add_argument("--data-dir", default=suites.default_data_dir())
    ap.add_argument("--json", help="write every engine's medians here")
    args = ap.parse_args()
    suite = suites.SUITES[args.suite]
    data = suite.data(args.data_dir, args.sf)
    parquet = parquet_files(suite, data)
    queries = suite.query_files()

    for backends in filter(None, args.run_basalt.split(",")):
        label = "standalone" if backends == "0" else f"{backends}be"
        out = os.path.join(data, f"basalt-{label}.json")
        subprocess.check_call([sys.executable, os.path.join(os.path.dirname(__file__), "suite.py"),
                               "--suite", suite.name, "--sf", str(args.sf), "--runs", str(args.runs),
                               "--backends", backends, "--data-dir", args.data_dir, "--json", out,
                               "--check"])
        args.basalt.append(f"{label}={out}")
    medians = {}
    for label_json in args.basalt:
        label, path = label_json.split("=", 1)
        with open(path) as f:
            result = json.load(f)
        medians[f"basalt-{label}"] = {q: r.get("median_s") for q, r in result["queries"].items()}
    for name in args.engines.split(","):
        run = engine(name, suite, data, parquet)
        medians[name] = {}
        for q, sql in queries:
            try:
                medians[name][q] = timed(run, sql, args.runs)
            except Exception as e:  # an engine that cannot run a query is reported, not fatal
                print(f"{name} {q}: {str(e).splitlines()[0][:120]}", file=sys.stderr)
                medians[name][q] = None
        print(f"{name}: done", file=sys.stderr, flush=True)

    names = list(medians)
    print(f"{suite.name} SF {args.sf:g}, median of {args.runs} runs (s)")
    print("| query | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for q, _ in queries:
        cells = [f"{medians[n][q]:.3f}" if medians[n].get(q) else "-" for n in names]
        print(f"| {q} | " + " | ".join(cells) + " |")
    # Geometric means over the queries every engine answered.
    common = [q for q, _ in queries if all(medians[n].get(q) for n in names)]
    means = {n: geomean([medians[n][q] for q in common]) for n in names}
    print(f"| geomean ({len(common)} queries) | " +
          " | ".join(f"{means[n]:.3f}" for n in names) + " |")
    for b in [n for n in names if n.startswith("basalt-")]:
        for peer in [n for n in names if not n.startswith("basalt-")]:
            ratios = [medians[b][q] / medians[peer][q] for q in common]
            print(f"{b} / {peer}: geomean ratio {geomean(ratios):.2f}, "
                  f"worst {max(ratios):.2f} ({common[ratios.index(max(ratios))]})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(medians, f, indent=1)


if __name__ == "__main__":
    main()
