#!/usr/bin/env bash
# Runs Basalt's whole test suite on a fresh machine: installs what the tests
# need (the mysql CLI, a JRE with MariaDB Connector/J, curl and compressors;
# pymysql, DuckDB and tpchgen-cli in a local virtualenv), checks formatting
# and lints, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mysql >/dev/null || need+=(mariadb-client)
[ -f /usr/share/java/mariadb-java-client.jar ] || need+=(libmariadb-java)
command -v java >/dev/null || need+=(default-jre-headless)
# Stream Load tests send bodies made by the real tools.
for tool in curl gzip bzip2 lz4 zstd; do
    command -v $tool >/dev/null || need+=($tool)
done
if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# DuckDB answers the benchmark queries the suite checks Basalt's against;
# tpchgen-cli generates their data.
.venv/bin/python -c "import pymysql, requests, duckdb" 2>/dev/null \
    || .venv/bin/pip install -q pymysql requests duckdb
[ -x .venv/bin/tpchgen-cli ] || .venv/bin/pip install -q tpchgen-cli
export BASALT_PYTHON="$PWD/.venv/bin/python"

# A target directory outside the clone survives between CI runs on the same
# machine; on a fresh machine it is simply built from scratch.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/basalt-target}"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --bins
log=$(mktemp)
set +e
cargo test --workspace 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
