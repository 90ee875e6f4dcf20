#!/usr/bin/env bash
# bench/adhoc.sh — what an ad-hoc run and one remote command cost with provision, next
# to plain OpenSSH with ControlMaster (bench/ssh_baseline.sh) and ansible-core, on the
# lab fleet (tests/fleet/fleet up). Prints a table; nothing is asserted.
#
#   bench/adhoc.sh                 RUNS=10 N=500 by default
#
# Needs: the fleet up; ansible-core in $ANSIBLE_VENV (default /root/.cache/ansible-venv)
# for the Ansible column (skipped if absent).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
RUNS=${RUNS:-10}
N=${N:-500}
ANSIBLE_VENV=${ANSIBLE_VENV:-/root/.cache/ansible-venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/provision-target}
[[ -f .fleet/hosts.tsv ]] || { echo "no fleet: run tests/fleet/fleet up first" >&2; exit 1; }
cargo build -q --release --bin provision --example roundtrip
P="$CARGO_TARGET_DIR/release/provision"
INV=inventory/lab.yml
hosts=$(wc -l < .fleet/hosts.tsv)

mean_ms() {  # mean wall time of RUNS runs of "$@", in ms
    local i t0 t1 sum=0
    for ((i = 0; i < RUNS; i++)); do
        t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N)
        sum=$((sum + (t1 - t0) / 1000))
    done
    awk -v s="$sum" -v n="$RUNS" 'BEGIN { printf "%.1f", s / n / 1000 }'
}

echo "== whole ad-hoc runs on $hosts hosts (mean of $RUNS, ms, includes connecting)"
printf '%-34s %10s %10s\n' "command" "provision" "ansible"
for args in "all -m ping" "all -m command -a true" "all -m shell -a 'echo hi'"; do
    p=$(eval mean_ms "$P" $args -i $INV)
    if [[ -x "$ANSIBLE_VENV/bin/ansible" ]]; then
        a=$(RUNS=3 eval mean_ms "$ANSIBLE_VENV/bin/ansible" $args -i $INV)
    else a="-"; fi
    printf '%-34s %10s %10s\n' "$args" "$p" "$a"
done

echo
echo "== one connection, $N sequential commands (ms per command)"
"$CARGO_TARGET_DIR/release/examples/roundtrip" 22201 "$N" 1 | sed 's/^/provision  /'
"$CARGO_TARGET_DIR/release/examples/roundtrip" 22201 "$N" 4 | sed 's/^/provision  /'
ITERS=$N bench/ssh_baseline.sh h1 | sed 's/^/openssh    /'
