#!/usr/bin/env bash
# bench/playbook.sh — the same ~20-task playbook under provision, ansible-playbook
# (ansible-core) and pyinfra, on 4 and on 20 lab hosts: the first run (changes) and the
# idempotent second run, with the ratios. Prints a markdown table; asserts nothing.
#
#   bench/playbook.sh            SIZES="4 20" by default
#
# Needs: docker (tests/fleet/fleet), ansible-core in $ANSIBLE_VENV and pyinfra in
# $PYINFRA_VENV (created with pip if missing: PyPI is reachable).
# It recreates the fleet with each size: don't run it while tests use the fleet.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
SIZES=${SIZES:-"4 20"}
ANSIBLE_VENV=${ANSIBLE_VENV:-/root/.cache/ansible-venv}
PYINFRA_VENV=${PYINFRA_VENV:-/root/.cache/pyinfra-venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/provision-target}
[[ -x $ANSIBLE_VENV/bin/ansible-playbook ]] || { python3 -m venv "$ANSIBLE_VENV" && "$ANSIBLE_VENV/bin/pip" install -q ansible-core; }
[[ -x $PYINFRA_VENV/bin/pyinfra ]] || { python3 -m venv "$PYINFRA_VENV" && "$PYINFRA_VENV/bin/pip" install -q pyinfra; }
cargo build -q --release --bin provision
P="$CARGO_TARGET_DIR/release/provision"
export ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_NOCOLOR=1
secs() { local t0 t1; t0=$(date +%s%N); "$@" >/tmp/provision-bench.log 2>&1 || { echo "FAILED: $*" >&2; tail -20 /tmp/provision-bench.log >&2; }; t1=$(date +%s%N); awk -v d=$((t1 - t0)) 'BEGIN { printf "%.2f", d / 1e9 }'; }
# (No kept connection: provision's first run starts cold, as the others' do.)
reset() { PROVISION_CONTROL_PERSIST=0 "$P" all -i inventory/lab.yml -m shell -a 'rm -rf /tmp/provision-bench' -f 50 >/dev/null; }

pyinfra_inventory() {  # a pyinfra inventory.py for the lab fleet
    local f=$1
    {
        echo "hosts = ["
        while IFS=$'\t' read -r name port _ _; do
            echo "    ('$name', {'ssh_hostname': '127.0.0.1', 'ssh_port': $port, 'ssh_user': 'root', 'ssh_key': '$ROOT/.fleet/keys/id_ed25519', 'ssh_known_hosts_file': '$ROOT/.fleet/known_hosts', 'ssh_strict_host_key_checking': 'yes'}),"
        done < .fleet/hosts.tsv
        echo "]"
    } > "$f"
}

echo "| hosts | run | provision (s) | ansible-core (s) | pyinfra (s) | ansible / provision | pyinfra / provision |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for n in $SIZES; do
    tests/fleet/fleet up "$n" >/dev/null 2>&1
    pyinfra_inventory /tmp/provision-bench-inventory.py
    declare -A t=()
    # p2 reuses the connections p1 kept (control_persist, 60 s by default), as ansible-core's
    # second run reuses its ControlPersist=60s masters; p3 is the idempotent run without.
    reset; t[p1]=$(secs "$P" bench/playbook/bench.yml -i inventory/lab.yml -f 50); t[p2]=$(secs "$P" bench/playbook/bench.yml -i inventory/lab.yml -f 50)
    t[p3]=$(PROVISION_CONTROL_PERSIST=0 secs "$P" bench/playbook/bench.yml -i inventory/lab.yml -f 50)
    reset; t[a1]=$(secs "$ANSIBLE_VENV/bin/ansible-playbook" bench/playbook/bench.yml -i inventory/lab.yml -f 50); t[a2]=$(secs "$ANSIBLE_VENV/bin/ansible-playbook" bench/playbook/bench.yml -i inventory/lab.yml -f 50)
    reset; t[y1]=$(secs "$PYINFRA_VENV/bin/pyinfra" -y --parallel 50 /tmp/provision-bench-inventory.py bench/playbook/deploy.py); t[y2]=$(secs "$PYINFRA_VENV/bin/pyinfra" -y --parallel 50 /tmp/provision-bench-inventory.py bench/playbook/deploy.py)
    t[a3]=${t[a2]}; t[y3]=${t[y2]}
    for r in 1 2 3; do
        case $r in 1) label=first ;; 2) label=idempotent ;; 3) label="idempotent, provision without kept connections" ;; esac
        awk -v n="$n" -v l="$label" -v p="${t[p$r]}" -v a="${t[a$r]}" -v y="${t[y$r]}" \
            'BEGIN { printf "| %s | %s | %.2f | %.2f | %.2f | %.1fx | %.1fx |\n", n, l, p, a, y, a / p, y / p }'
    done
    unset t
done
tests/fleet/fleet up 5 >/dev/null 2>&1
