#!/usr/bin/env bash
# The handshake cost matrix: instructions per handshake, server side and client side
# (callgrind, one run per side and variant), for the settings perf/tls_handshake_cost.cc
# describes. Instruction counts, not wall time: the machine is shared and noisy.
#   perf/tls_handshake_cost.sh [count]        (default 100 handshakes per run)
# TLS_HANDSHAKE_COST names the binary (default build/release/perf/tls_handshake_cost).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${TLS_HANDSHAKE_COST:-$root/build/release/perf/tls_handshake_cost}"
count="${1:-100}"
[[ -x "$bin" ]] || { echo "$bin not built (scripts/build release tls_handshake_cost)"; exit 1; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# name|options. The client offers X25519 first (key share) unless --client-groups says
# otherwise, as OpenSSL 3.0 (slixmpp, libstrophe, profanity) and BoringSSL do.
variants=(
  "1.3 full, X25519, ECDSA P-256 cert|"
  "1.3 full, P-256 (both prefer it), ECDSA P-256|--server-groups P-256:X25519 --client-groups P-256:X25519"
  "1.3 full, server prefers P-256, client X25519 share (HRR)|--server-groups P-256:X25519"
  "1.3 full, server prefers X25519, client P-256 share (HRR)|--client-groups P-256:X25519"
  "1.3 full, X25519, RSA-2048 cert|--cert rsa2048"
  "1.3 full, X25519, Ed25519 cert|--cert ed25519"
  "1.3 full, X25519, ECDSA P-256, client verifies|--verify"
  "1.3 full, X25519, ECDSA P-256, no session ticket issued|--no-tickets"
  "1.3 resumed (PSK+ECDHE), X25519|--resume"
  "1.3 resumed (PSK+ECDHE), P-256|--resume --server-groups P-256:X25519 --client-groups P-256:X25519"
  "1.2 full, X25519, ECDSA P-256 cert|--version 1.2"
  "1.2 full, P-256, ECDSA P-256 cert|--version 1.2 --server-groups P-256:X25519 --client-groups P-256:X25519"
  "1.2 full, X25519, RSA-2048 cert|--version 1.2 --cert rsa2048"
  "1.2 resumed (ticket, no ECDHE)|--version 1.2 --resume"
)

run() {  # side options... -> instructions per handshake
  local side="$1"; shift
  valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out/cg.out" \
    "$bin" --measure "$side" --count "$count" "$@" > "$out/stdout" 2> "$out/stderr" \
    || { cat "$out/stderr" >&2; exit 1; }
  awk -v n="$count" '/^totals:/ {printf "%d", $2 / n; exit}' "$out/cg.out"
}

printf "%-62s %12s %12s  %s\n" "variant ($count handshakes each)" "server Ir/hs" "client Ir/hs" "negotiated"
for v in "${variants[@]}"; do
  name="${v%%|*}"
  read -r -a opts <<< "${v#*|}"
  server="$(run server "${opts[@]}")"
  client="$(run client "${opts[@]}")"
  printf "%-62s %12s %12s  %s\n" "$name" "$server" "$client" "$(cat "$out/stdout")"
done
