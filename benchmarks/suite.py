"""TPC-H (and SSB) through the MySQL wire: generate the data, start Basalt
(standalone or a local cluster) or connect to one, create the schema, load
every table with Stream Load, run each query with a warm-up and N timed
runs, and report per-query medians, the geometric mean, load time and
stored size. With --check every answer is compared with DuckDB's on the same
data; a difference fails the run and prints the first differing rows."""
import argparse
import datetime
import decimal
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import ssb_gen  # noqa: E402
from harness import BE_PORTS, FE_PORTS, Cluster, Proc, connect, query  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QUERIES = os.path.join(HERE, "queries")


def statements(path, **params):
    """The `;`-separated statements of a SQL file, with `{name}` filled in."""
    text = open(os.path.join(HERE, path)).read()
    text = re.sub(r"--[^\n]*", "", text)
    for k, v in params.items():
        text = text.replace("{" + k + "}", str(v))
    return [s.strip() for s in text.split(";") if s.strip()]


class Suite:
    """A benchmark: its DDL file, its tables (name -> the data file's columns
    in file order), how to make the data, the statements that run after the
    load, and its query directories."""

    def __init__(self, name, schema, tables, generate, queries, after=()):
        self.name, self.schema, self.tables = name, schema, tables
        self.generate, self.queries, self.after = generate, queries, after

    def query_files(self):
        out = []
        for i, q in enumerate(self.queries):
            d = os.path.join(QUERIES, q)
            prefix = "" if i == 0 else f"{q}/"
            out += [(prefix + f.rsplit(".", 1)[0], open(os.path.join(d, f)).read())
                    for f in sorted(os.listdir(d)) if f.endswith(".sql")]
        return out

    def data(self, data_dir, sf):
        """The directory of the suite's data files at `sf`, generated once."""
        path = os.path.join(data_dir, f"{self.name}-sf{sf:g}")
        self.generate(sf, path)
        return path

    def after_load(self):
        return [s for f in self.after for s in statements(f)]


def generate_tpch(sf, out):
    """TPC-H at `sf` as TBL files (`|` after every field) by tpchgen-cli."""
    if os.path.exists(os.path.join(out, "done")):
        return
    os.makedirs(out, exist_ok=True)
    cli = os.path.join(os.path.dirname(sys.executable), "tpchgen-cli")
    subprocess.check_call([cli, "tbl", "-s", str(sf), f"--output-dir={out}"])
    open(os.path.join(out, "done"), "w").close()


TPCH = Suite("tpch", "tpch/schema.sql", {
    "nation": ["n_nationkey", "n_name", "n_regionkey", "n_comment"],
    "region": ["r_regionkey", "r_name", "r_comment"],
    "part": ["p_partkey", "p_name", "p_mfgr", "p_brand", "p_type", "p_size", "p_container",
             "p_retailprice", "p_comment"],
    "supplier": ["s_suppkey", "s_name", "s_address", "s_nationkey", "s_phone", "s_acctbal",
                 "s_comment"],
    "partsupp": ["ps_partkey", "ps_suppkey", "ps_availqty", "ps_supplycost", "ps_comment"],
    "customer": ["c_custkey", "c_name", "c_address", "c_nationkey", "c_phone", "c_acctbal",
                 "c_mktsegment", "c_comment"],
    "orders": ["o_orderkey", "o_custkey", "o_orderstatus", "o_totalprice", "o_orderdate",
               "o_orderpriority", "o_clerk", "o_shippriority", "o_comment"],
    "lineitem": ["l_orderkey", "l_partkey", "l_suppkey", "l_linenumber", "l_quantity",
                 "l_extendedprice", "l_discount", "l_tax", "l_returnflag", "l_linestatus",
                 "l_shipdate", "l_commitdate", "l_receiptdate", "l_shipinstruct", "l_shipmode",
                 "l_comment"],
}, generate_tpch, ["tpch"])


def ssb_columns(table):
    """A table's columns in the order of its DDL (the dimension files follow it)."""
    for stmt in statements("ssb/schema.sql"):
        if re.match(rf"CREATE TABLE {table} ", stmt):
            return re.findall(r"^\s+(\w+) [A-Z]", stmt, re.M)
    raise KeyError(table)


SSB = Suite("ssb", "ssb/schema.sql",
            {**{t: ssb_columns(t) for t in ["customer", "supplier", "part", "dates"]},
             "lineorder": ssb_gen.LINEORDER_COLUMNS},
            ssb_gen.generate, ["ssb", "ssb-flat"], after=["ssb/flatten.sql"])
SUITES = {"tpch": TPCH, "ssb": SSB}


def stream_load(http_port, db, table, path, columns):
    """A `|`-separated file into db.table; the trailing `|` makes one more
    (unused) field, as Doris's own TPC-H loader maps it."""
    out = subprocess.check_output(
        ["curl", "-sS", "--location-trusted", "-u", "root:", "-T", path,
         "-H", "column_separator: |", "-H", f"columns: {','.join(columns)},trailing",
         f"http://127.0.0.1:{http_port}/api/{db}/{table}/_stream_load"])
    r = json.loads(out)
    if r.get("Status") != "Success":
        raise RuntimeError(f"loading {table}: {r}")
    return r["NumberLoadedRows"]


def wait_for_backends(conn, n, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with conn.cursor() as c:
            c.execute("SHOW BACKENDS")
            names = [d[0] for d in c.description]
            alive = [r for r in c.fetchall() if str(r[names.index("Alive")]).lower() == "true"]
        if len(alive) >= n:
            return
        time.sleep(0.2)
    raise RuntimeError(f"fewer than {n} backends alive")


def wait_for_reports(conn, timeout=60):
    """Waits until the backends' tablet reports count every row of every
    table: the planner's row counts come from them, and they arrive every
    tablet_report_interval_second (Doris's own row counts lag loads too)."""
    deadline = time.time() + timeout
    for (table,) in query(conn, "SHOW TABLES"):
        (count,), = query(conn, f"SELECT COUNT(*) FROM {table}")
        while True:
            per_tablet = {}
            for r in query(conn, f"SHOW TABLETS FROM {table}"):
                per_tablet[r[0]] = max(per_tablet.get(r[0], 0), int(r[10]))
            if sum(per_tablet.values()) == count:
                break
            if time.time() > deadline:
                raise RuntimeError(f"the tablet reports of {table} never counted its {count} rows")
            time.sleep(0.2)


# Comparing answers: numbers within a tolerance, everything else exactly,
# rows as a multiset (ties in ORDER BY may come in either order).

def normal(v):
    if isinstance(v, (decimal.Decimal, float, int)) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode()
    return v


def sort_key(row):
    return [(0, round(v, 2)) if isinstance(v, float) else (1, str(v)) for v in row]


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=0.01)
    return a == b


def differences(ours, theirs):
    ours = sorted(([normal(v) for v in r] for r in ours), key=sort_key)
    theirs = sorted(([normal(v) for v in r] for r in theirs), key=sort_key)
    if len(ours) != len(theirs):
        return f"{len(ours)} rows, DuckDB has {len(theirs)}: first rows {ours[:3]} vs {theirs[:3]}"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if len(a) != len(b) or not all(same(x, y) for x, y in zip(a, b)):
            return f"row {i}: {a} vs DuckDB {b}"
    return None


def duckdb_load(con, suite, data):
    """The suite's tables in a DuckDB connection, from the same data files
    (types from the suite's DDL), and what runs after the load."""
    for stmt in statements(suite.schema, buckets=1, small_buckets=1):
        name = re.match(r"CREATE TABLE (\w+)", stmt).group(1)
        cols = re.findall(r"^\s+(\w+) ([A-Z]+(?:\([\d, ]+\))?)", stmt, re.M)
        types = {c: t for c, t in cols}
        if name not in suite.tables:
            con.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in cols)})")
            continue
        file_cols = suite.tables[name]
        spec = ", ".join(f"'{c}': '{types[c]}'" for c in file_cols) + ", 'trailing': 'VARCHAR'"
        con.execute(
            f"CREATE TABLE {name} AS SELECT {', '.join(file_cols)} FROM read_csv("
            f"'{data}/{name}.tbl', delim='|', header=false, quote='', escape='', "
            f"columns={{{spec}}})")
    for stmt in suite.after_load():
        con.execute(stmt)


def duckdb_answers(suite, data, sql_by_query):
    import duckdb
    con = duckdb.connect()
    duckdb_load(con, suite, data)
    return {q: con.execute(sql).fetchall() for q, sql in sql_by_query.items()}


def create_and_load(conn, http_port, suite, data, db, buckets):
    """The suite's database afresh, loaded: (rows loaded, seconds)."""
    query(conn, f"DROP DATABASE IF EXISTS {db}")
    query(conn, f"CREATE DATABASE {db}")
    query(conn, f"USE {db}")
    for stmt in statements(suite.schema, buckets=buckets, small_buckets=max(1, buckets // 2)):
        query(conn, stmt)
    started = time.time()
    rows = sum(stream_load(http_port, db, t, os.path.join(data, f"{t}.tbl"), cols)
               for t, cols in suite.tables.items())
    for stmt in suite.after_load():
        query(conn, stmt)
    return rows, time.time() - started


def default_data_dir():
    return os.path.join(tempfile.gettempdir(), "basalt-bench-data")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=sorted(SUITES), default="tpch",
                    help="tpch (22 queries) or ssb (13 queries, and the 13 over lineorder_flat)")
    ap.add_argument("--sf", type=float, default=0.01, help="scale factor")
    ap.add_argument("--backends", type=int, default=0,
                    help="start 1 FE + this many BEs (0: the standalone server)")
    ap.add_argument("--connect", type=int, metavar="PORT",
                    help="use a running server's MySQL port (its HTTP port must be --http-port)")
    ap.add_argument("--http-port", type=int, default=8030)
    ap.add_argument("--buckets", type=int, default=8, help="buckets of the large tables")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per query, after a warm-up")
    ap.add_argument("--queries", help="comma-separated query names (default: all)")
    ap.add_argument("--check", action="store_true", help="compare every answer with DuckDB's")
    ap.add_argument("--no-analyze", action="store_true",
                    help="skip ANALYZE after the load (the planner then has row counts only)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--data-dir", default=default_data_dir())
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--bin-dir", default=os.path.join(target, "release"))
    args = ap.parse_args()

    suite = SUITES[args.suite]
    data = suite.data(args.data_dir, args.sf)
    queries = suite.query_files()
    if args.queries:
        wanted = args.queries.split(",")
        queries = [(q, s) for q, s in queries if q in wanted]

    root = tempfile.mkdtemp(prefix="basalt-suite-")
    server = None
    if args.connect:
        port, http_port = args.connect, args.http_port
    elif args.backends:
        server = Cluster(args.bin_dir, root, args.backends)
        port, http_port = server.port, server.fe.ports["http_port"]
        wait_for_backends(connect(port), args.backends)
    else:
        server = Proc(f"{args.bin_dir}/basalt", ["--data-dir", f"{root}/sa", *FE_PORTS, *BE_PORTS],
                      f"{root}/sa")
        port, http_port = server.ports["query_port"], server.ports["http_port"]
    failed = []
    try:
        conn = connect(port)
        db = f"{suite.name}_sf{str(args.sf).replace('.', '_')}"
        rows, load_s = create_and_load(conn, http_port, suite, data, db, args.buckets)
        print(f"loaded {rows:,} rows in {load_s:.1f} s")
        wait_for_reports(conn)
        analyze_s = None
        if not args.no_analyze:
            # Doris collects column statistics after loads by itself; here
            # the suite asks for them, as the join planning needs them.
            t = time.time()
            query(conn, f"ANALYZE DATABASE {db} WITH SYNC")
            analyze_s = time.time() - t
            print(f"analyzed in {analyze_s:.1f} s")

        results = {}
        for name, sql in queries:
            try:
                query(conn, sql)
                times, answer = [], None
                for _ in range(args.runs):
                    t = time.time()
                    answer = query(conn, sql)
                    times.append(time.time() - t)
                times.sort()
                results[name] = {"median_s": times[len(times) // 2], "rows": len(answer),
                                 "answer": answer}
            except Exception as e:  # a failing query is reported, and fails the run
                results[name] = {"error": str(e)}
                failed.append(name)
            r = results[name]
            print(f"{name}: " + (f"{r['median_s']:.3f} s, {r['rows']} rows" if "error" not in r
                                 else f"ERROR {r['error']}"), flush=True)
        if args.check:
            theirs = duckdb_answers(suite, data, dict(queries))
            for name, _ in queries:
                r = results[name]
                if "error" in r:
                    continue
                diff = differences(r["answer"], theirs[name])
                r["matches_duckdb"] = diff is None
                if diff:
                    failed.append(name)
                    print(f"{name}: DIFFERS from DuckDB: {diff}")
            print(f"DuckDB check: {sum(1 for r in results.values() if r.get('matches_duckdb'))}"
                  f" of {len(queries)} {suite.name} queries match")
        timed = [r["median_s"] for r in results.values() if "median_s" in r]
        geomean = math.exp(sum(math.log(max(t, 1e-4)) for t in timed) / len(timed)) if timed else 0
        print(f"geometric mean: {geomean:.3f} s over {len(timed)} queries")
        if args.json:
            for r in results.values():
                r.pop("answer", None)
            with open(args.json, "w") as f:
                json.dump({"suite": suite.name, "sf": args.sf, "backends": args.backends,
                           "load_s": load_s, "analyze_s": analyze_s, "rows": rows, "geomean_s": geomean,
                           "queries": results}, f, indent=1, default=str)
    finally:
        if server:
            server.stop()
    if failed:
        print(f"FAILED: {', '.join(dict.fromkeys(failed))}")
        sys.exit(1)


if __name__ == "__main__":
    main()
