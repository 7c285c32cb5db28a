#!/usr/bin/env bash
# Login storms against a local xmeshd (loops = 2) with full TLS handshakes vs resumed
# ones (issue 3), each variant on a freshly started server with a copy of the same store:
#   cold          tls_resumption = false, no warmup: every login a full handshake
#   warm-full     warmup_logins = true, tls_resumption = false: the same storm after
#                 every user logged in and out once, still full handshakes (isolates
#                 the server's warm caches from TLS)
#   warm-resumed  warmup_logins = true, tls_resumption = true: the storm is N users
#                 reconnecting with the ticket of their warmup connection
#
#   perf/login_storm_tls.sh wall [users=2000] [runs=2]
#       logins/s per variant and run (wall time: the machine is shared, so read the CPU
#       seconds too), from each run's report.json
#   perf/login_storm_tls.sh callgrind [users=300]
#       xmeshd under callgrind, instrumented only from the start of the measured logins
#       to the end of the login phase: instructions per login, per variant
#
# Environment: BUILD_DIR (default build/release), OUT (default out/login-storm-tls),
# CONTACTS (average roster size, default 10), WORKERS (loadgen workers, default 0 = cores).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mode="${1:-wall}"
bin="${BUILD_DIR:-$root/build/release}"
out="${OUT:-$root/out/login-storm-tls}"
contacts="${CONTACTS:-10}"
workers="${WORKERS:-0}"
if [[ "$mode" == callgrind ]]; then users="${2:-300}"; runs=1; else users="${2:-2000}"; runs="${3:-2}"; fi
loadgen="$bin/loadgen/xmesh-loadgen"
for b in "$loadgen" "$bin/router/xmeshd" "$bin/ctl/xmeshctl"; do
  [[ -x "$b" ]] || { echo "$b not built (scripts/build release xmeshd xmeshctl xmesh-loadgen)"; exit 1; }
done
mkdir -p "$out"

pop="$out/pop-$users-c$contacts/pop.csv"
if [[ ! -s "$pop.keys" ]]; then
  mkdir -p "$(dirname "$pop")"
  "$loadgen" gen-population --users "$users" --avg-contacts "$contacts" --iterations 4096 --seed 1 \
    --domain localhost --out "$pop" > /dev/null
  "$bin/ctl/xmeshctl" --db "$(dirname "$pop")/base.db" import "$pop" > /dev/null
fi

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

server_pid=""
stop_server() {
  [[ -n "$server_pid" ]] || return 0
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
trap stop_server EXIT

# start_server DIR [wrapper...]: a fresh xmeshd on a copy of the store; sets c2s, server_pid.
start_server() {
  local dir="$1"; shift
  rm -rf "$dir" && mkdir -p "$dir/data"
  cp "$(dirname "$pop")/base.db" "$dir/data/xmesh.db"
  c2s=$(free_port)
  # Generous timeouts: under callgrind the server runs ~50x slower.
  cat > "$dir/xmeshd.toml" <<TOML
domain = "localhost"
node_id = "tls1"
loops = 2
data_dir = "$dir/data"
log_level = "warn"
[listen]
c2s_address = "127.0.0.1"
c2s_port = $c2s
admin_port = 0
[limits]
tls_handshake_timeout_seconds = 600
pre_auth_timeout_seconds = 600
TOML
  "$@" "$bin/router/xmeshd" --config "$dir/xmeshd.toml" > "$dir/xmeshd.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$c2s") 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$dir/xmeshd.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "xmeshd did not listen on $c2s" >&2; exit 1
}

variant_sets() {
  case "$1" in
    cold) echo "--set tls_resumption=false --set warmup_logins=false" ;;
    warm-full) echo "--set tls_resumption=false --set warmup_logins=true" ;;
    warm-resumed) echo "--set tls_resumption=true --set warmup_logins=true" ;;
  esac
}

summary() {  # report.json -> one line
  /usr/bin/python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); l = r["login"]; t = l["tls"]
print(f"{l['online']:>6}/{l['users']:<6} {l['logins_per_s']:8.0f} {l['time_to_last_login_s']:8.2f} "
      f"{t['resumed']:>8} {t['full']:>6} {l['server_cpu_s']:8.2f} {l['loadgen_cpu_s']:8.2f} "
      f"{l['latency_us']['p99']/1000:9.1f}  fail {l['failures']}")
PY
}

if [[ "$mode" == wall ]]; then
  printf "%-13s %-4s %13s %8s %8s %8s %6s %8s %8s %9s\n" variant run online/users logins/s "last s" resumed full "srv cpu" "lg cpu" "p99 ms"
  # Interleaved (run 1 of each variant, then run 2, ...): the machine's other load
  # drifts, and this spreads it over the variants.
  for r in $(seq "$runs"); do
    for v in cold warm-full warm-resumed; do
      dir="$out/$v-$r"
      start_server "$dir"
      # shellcheck disable=SC2046
      "$loadgen" --scenario "$root/loadgen/scenarios/login_storm.toml" --port "$c2s" --users "$users" \
        --population "$pop" --server-pid "$server_pid" --workers "$workers" --duration 1 \
        $(variant_sets "$v") --out "$dir" > "$dir/loadgen.log" 2>&1 || { tail -n 30 "$dir/loadgen.log"; exit 1; }
      stop_server
      printf "%-13s %-4s " "$v" "$r"; summary "$dir/report.json"
    done
  done
  echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg); reports under $out/<variant>-<run>/"
  exit 0
fi

[[ "$mode" == callgrind ]] || { echo "usage: $0 wall|callgrind [users] [runs]"; exit 1; }
printf "%-13s %16s %8s %8s %6s %14s\n" variant "Ir (login phase)" logins resumed full "Ir per login"
for v in cold warm-full warm-resumed; do
  dir="$out/callgrind-$v"
  start_server "$dir" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/cg.out.%p"
  [[ "$v" == cold ]] && callgrind_control -i on "$server_pid" > /dev/null 2>&1
  # A long warmup_settle gives time to switch instrumentation on between warmup and storm;
  # a settle after the logins lets the last presence work finish before the dump.
  # shellcheck disable=SC2046
  "$loadgen" --scenario "$root/loadgen/scenarios/login_storm.toml" --port "$c2s" --users "$users" \
    --population "$pop" --workers "$workers" --duration 1 --settle 3 --set login_timeout=600 \
    --set login_concurrency=50 --set warmup_settle=5 $(variant_sets "$v") --out "$dir" \
    > "$dir/loadgen.log" 2>&1 &
  lg=$!
  instrumented=$([[ "$v" == cold ]] && echo 1 || echo 0)
  dumped=0
  while kill -0 "$lg" 2>/dev/null; do
    if ((instrumented == 0)) && grep -qs "warmup done" "$dir/loadgen.log"; then
      callgrind_control -i on "$server_pid" > /dev/null 2>&1; instrumented=1
    fi
    if ((instrumented == 1 && dumped == 0)) && grep -qsE '\] (settle|main)' "$dir/loadgen.log"; then
      callgrind_control -d "$server_pid" > /dev/null 2>&1; dumped=1
    fi
    sleep 0.2
  done
  wait "$lg" || { tail -n 30 "$dir/loadgen.log"; exit 1; }
  stop_server
  dump="$(find "$dir" -maxdepth 1 -name "cg.out.*.1" | head -1)"
  [[ -n "$dump" ]] || { echo "$v: no callgrind dump" >&2; exit 1; }
  ir="$(awk '/^totals:/ {print $2; exit}' "$dump")"
  /usr/bin/python3 - "$dir/report.json" "$ir" "$v" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); l = r["login"]; t = l["tls"]; ir = int(sys.argv[2])
print(f"{sys.argv[3]:<13} {ir:>16,} {l['logins']:>8} {t['resumed']:>8} {t['full']:>6} {ir // max(1, l['logins']):>14,}")
PY
done
