"""Real Basalt processes for the benchmark scripts: start basalt, basalt-fe
and basalt-be on 127.0.0.1 (ports from --ready-file), form a cluster, talk
MySQL to it, and read each process's CPU time and peak memory."""
import json
import os
import signal
import statistics
import subprocess
import time

import pymysql


def wait_ready(path, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            time.sleep(0.1)
    raise RuntimeError(f"{path} never appeared")


class Proc:
    def __init__(self, binary, args, workdir):
        os.makedirs(workdir, exist_ok=True)
        self.ready = os.path.join(workdir, "ready.json")
        self.args = [binary] + args + ["--ready-file", self.ready]
        self.log = open(os.path.join(workdir, "log"), "ab")
        self.start()

    def start(self):
        if os.path.exists(self.ready):
            os.remove(self.ready)
        self.p = subprocess.Popen(self.args, stdout=self.log, stderr=self.log)
        self.ports = wait_ready(self.ready)

    def cpu_seconds(self):
        with open(f"/proc/{self.p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self):
        """The process's peak resident memory (VmHWM), in MiB."""
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def kill9(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            self.p.wait(timeout=60)


def connect(port):
    return pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)


def query(conn, sql):
    with conn.cursor() as c:
        c.execute(sql)
        return c.fetchall()


def timed(conn, sql, runs):
    """Median seconds of `runs` runs after a warm-up, and the answer."""
    query(conn, sql)
    times, answer = [], None
    for _ in range(runs):
        started = time.time()
        answer = query(conn, sql)
        times.append(time.time() - started)
    return statistics.median(times), answer


def stream_load_csv(http_port, db, table, path):
    """A comma-separated file into `db.table` with curl, which must succeed."""
    out = subprocess.check_output(
        ["curl", "-sS", "--location-trusted", "-u", "root:", "-T", path, "-H", "column_separator: ,",
         f"http://127.0.0.1:{http_port}/api/{db}/{table}/_stream_load"])
    assert b'"Success"' in out, out


FE_PORTS = ["--query-port", "0", "--http-port", "0", "--edit-log-port", "0"]
BE_PORTS = ["--webserver-port", "0", "--heartbeat-service-port", "0", "--brpc-port", "0"]


class Cluster:
    def __init__(self, bin_dir, root, n, fe_flags=()):
        self.fe = Proc(f"{bin_dir}/basalt-fe",
                       ["--meta-dir", f"{root}/fe/meta", "--bind-host", "127.0.0.1", *FE_PORTS, *fe_flags],
                       f"{root}/fe")
        self.bes = [Proc(f"{bin_dir}/basalt-be",
                         ["--storage-root-path", f"{root}/be{k}/storage", "--bind-host", "127.0.0.1", *BE_PORTS],
                         f"{root}/be{k}") for k in range(n)]
        self.port = self.fe.ports["query_port"]
        hosts = ", ".join(f'"127.0.0.1:{b.ports["heartbeat_service_port"]}"' for b in self.bes)
        query(connect(self.port), f"ALTER SYSTEM ADD BACKEND {hosts}")

    def backend_id(self, k):
        port = str(self.bes[k].ports["heartbeat_service_port"])
        rows = query(connect(self.port), "SHOW BACKENDS")
        return next(str(r[0]) for r in rows if str(r[2]) == port)

    def stop(self):
        for p in [self.fe, *self.bes]:
            p.stop()
