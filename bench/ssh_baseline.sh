#!/usr/bin/env bash
# bench/ssh_baseline.sh — what plain OpenSSH costs on the test fleet, as the
# baseline for provision's own numbers.
#
# For each fleet host (from .fleet/hosts.tsv, written by tests/fleet/fleet up):
#   connect   time to open a ControlMaster (TCP + key exchange + publickey auth)
#   plain     mean of CONNECTS x `ssh host true` without multiplexing (full connect each)
#   mux       ITERS x `ssh -S ctl host true` over the master: ms per command
#
#   bench/ssh_baseline.sh            ITERS=200 CONNECTS=10 by default
#   ITERS=500 bench/ssh_baseline.sh h1 h3
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
FLEET="$ROOT/.fleet"
ITERS=${ITERS:-200}
CONNECTS=${CONNECTS:-10}

[[ -f "$FLEET/hosts.tsv" ]] || { echo "no fleet: run tests/fleet/fleet up first" >&2; exit 1; }
now() { date +%s%N; }

CTL_DIR=$(mktemp -d /tmp/provision-bench.XXXXXX)
cleanup() {
    local c
    for c in "$CTL_DIR"/*.ctl; do [[ -S "$c" ]] && ssh -S "$c" -O exit x >/dev/null 2>&1 || true; done
    rm -rf "$CTL_DIR"
}
trap cleanup EXIT

SSH=(ssh -n -F none -i "$FLEET/keys/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes
     -o UserKnownHostsFile="$FLEET/known_hosts" -o StrictHostKeyChecking=yes
     -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR)

ms() { awk -v ns="$1" -v n="$2" 'BEGIN { printf "%.2f", ns / n / 1e6 }'; }

echo "OpenSSH baseline: $(ssh -V 2>&1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "mux = $ITERS x 'ssh -S ctl root@host true' over one ControlMaster; plain = $CONNECTS x full 'ssh root@host true'"
echo
printf '%-5s %-6s %12s %12s %14s %12s\n' host port connect_ms plain_ms mux_ms/cmd mux_total_s
printf '%-5s %-6s %12s %12s %14s %12s\n' ---- ---- ---------- -------- ---------- -----------

sum_mux=0; sum_conn=0; sum_plain=0; hosts=0
while IFS=$'\t' read -r name port _hostname _container; do
    if (($# > 0)); then
        want=0; for h in "$@"; do [[ "$h" == "$name" ]] && want=1; done
        ((want)) || continue
    fi
    ctl="$CTL_DIR/$name.ctl"
    target=(-p "$port" root@127.0.0.1)

    # connect cost: open the master (forks to background once authenticated)
    t=$(now)
    "${SSH[@]}" -o ControlMaster=yes -o ControlPath="$ctl" -o ControlPersist=yes -f -N "${target[@]}"
    conn=$(($(now) - t))
    "${SSH[@]}" -S "$ctl" "${target[@]}" true   # warm the master

    # mux: commands over the master
    t=$(now)
    for ((i = 0; i < ITERS; i++)); do "${SSH[@]}" -S "$ctl" "${target[@]}" true; done
    mux=$(($(now) - t))
    ssh -S "$ctl" -O exit x >/dev/null 2>&1 || true

    # plain: a full connection per command
    t=$(now)
    for ((i = 0; i < CONNECTS; i++)); do "${SSH[@]}" -o ControlMaster=no -o ControlPath=none "${target[@]}" true; done
    plain=$(($(now) - t))

    printf '%-5s %-6s %12s %12s %14s %12s\n' "$name" "$port" "$(ms "$conn" 1)" "$(ms "$plain" "$CONNECTS")" \
        "$(ms "$mux" "$ITERS")" "$(awk -v ns="$mux" 'BEGIN { printf "%.2f", ns / 1e9 }')"
    sum_mux=$((sum_mux + mux)); sum_conn=$((sum_conn + conn)); sum_plain=$((sum_plain + plain)); hosts=$((hosts + 1))
done <"$FLEET/hosts.tsv"

((hosts > 0)) || { echo "no matching hosts" >&2; exit 1; }
printf '%-5s %-6s %12s %12s %14s %12s\n' mean "" "$(ms "$sum_conn" "$hosts")" "$(ms "$sum_plain" $((hosts * CONNECTS)))" \
    "$(ms "$sum_mux" $((hosts * ITERS)))" "$(awk -v ns="$sum_mux" -v n="$hosts" 'BEGIN { printf "%.2f", ns / n / 1e9 }')"
