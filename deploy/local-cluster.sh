#!/usr/bin/env bash
# A local Basalt cluster: one basalt-fe and N basalt-be processes on 127.0.0.1,
# each in its own directory under $BASALT_CLUSTER_DIR (default ./local-cluster),
# on free ports, the backends attached with ALTER SYSTEM ADD BACKEND.
#
#   deploy/local-cluster.sh start N   build if needed, start, attach N backends
#   deploy/local-cluster.sh status    processes, ports and SHOW BACKENDS
#   deploy/local-cluster.sh stop      SIGTERM every process and wait for it
#
# BASALT_BIN_DIR names the directory holding the binaries (default: build them
# with cargo and use its target directory); BASALT_FE_FLAGS adds FE flags
# (for example "--tablet-repair-delay-factor-second 10"). Needs the mysql client.
set -euo pipefail

DIR=${BASALT_CLUSTER_DIR:-./local-cluster}
cmd=${1:-}

bin_dir() {
    if [[ -n "${BASALT_BIN_DIR:-}" ]]; then
        echo "$BASALT_BIN_DIR"
        return
    fi
    local root
    root=$(cd "$(dirname "$0")/.." && pwd)
    (cd "$root" && cargo build --quiet --bins >&2)
    local target
    target=$(cd "$root" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    echo "$target/debug"
}

# The value of a port in a ready file, waiting for the process to write it.
port_of() {
    local file=$1 key=$2
    for _ in $(seq 1 600); do
        if [[ -s "$file" ]]; then
            python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$file" "$key"
            return
        fi
        sleep 0.1
    done
    echo "timed out waiting for $file" >&2
    exit 1
}

start_process() {
    local name=$1
    shift
    mkdir -p "$DIR/$name"
    rm -f "$DIR/$name/ready.json"
    "$@" --ready-file "$DIR/$name/ready.json" >"$DIR/$name/out.log" 2>&1 &
    echo $! >"$DIR/$name/pid"
}

case "$cmd" in
start)
    n=${2:?usage: local-cluster.sh start N}
    if [[ -f "$DIR/fe/pid" ]] && kill -0 "$(cat "$DIR/fe/pid")" 2>/dev/null; then
        echo "a cluster is already running in $DIR" >&2
        exit 1
    fi
    bin=$(bin_dir)
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    start_process fe "$bin/basalt-fe" --meta-dir "$DIR/fe/meta" --bind-host 127.0.0.1 \
        --query-port 0 --http-port 0 --edit-log-port 0 ${BASALT_FE_FLAGS:-}
    query_port=$(port_of "$DIR/fe/ready.json" query_port)
    add=()
    for k in $(seq 0 $((n - 1))); do
        start_process "be$k" "$bin/basalt-be" --storage-root-path "$DIR/be$k/storage" \
            --bind-host 127.0.0.1 --webserver-port 0 --heartbeat-service-port 0 --brpc-port 0
    done
    for k in $(seq 0 $((n - 1))); do
        add+=("\"127.0.0.1:$(port_of "$DIR/be$k/ready.json" heartbeat_service_port)\"")
    done
    hosts=$(IFS=,; echo "${add[*]}")
    mysql -h 127.0.0.1 -P "$query_port" -u root -e "ALTER SYSTEM ADD BACKEND $hosts"
    echo "$query_port" >"$DIR/query_port"
    echo "FE and $n BEs running in $DIR; connect with: mysql -h 127.0.0.1 -P $query_port -u root"
    ;;
status)
    [[ -f "$DIR/query_port" ]] || { echo "no cluster in $DIR"; exit 1; }
    for p in "$DIR"/*/pid; do
        name=$(basename "$(dirname "$p")")
        if kill -0 "$(cat "$p")" 2>/dev/null; then state=running; else state=stopped; fi
        echo "$name pid $(cat "$p") $state $(cat "$(dirname "$p")/ready.json" 2>/dev/null || true)"
    done
    mysql -h 127.0.0.1 -P "$(cat "$DIR/query_port")" -u root \
        -e "SHOW BACKENDS" | cut -f1-3,9-11
    ;;
stop)
    for p in "$DIR"/*/pid; do
        [[ -f "$p" ]] || continue
        pid=$(cat "$p")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 300); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        rm -f "$p"
    done
    rm -f "$DIR/query_port"
    echo "stopped"
    ;;
*)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
