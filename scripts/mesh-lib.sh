# shellcheck shell=bash
# A local xmesh mesh, for scripts/demo and scripts/mesh-up (sourced, not run).
#
# C clusters x M nodes on 127.0.2.2, 127.0.2.3, ... (one loopback address per node, so
# every node can use the same ports): clusters alpha, bravo, charlie, ... with nodes a1,
# a2, b1, b2, ...; the nodes of a cluster paired into presence redundancy groups; secure
# r2r (mutual TLS 1.3) with a CA and node certificates made by xmeshctl in DIR/certs; one
# SQLite store per cluster (DIR/data/<cluster>.db) shared by the cluster's nodes, as in
# tests/e2e/mesh_harness.py. Every process started is recorded in the caller's `pids`
# array, so the caller's EXIT trap stops it by PID.
#
#   bin=build/release; pids=()
#   mesh_layout DIR 2 2 [PORTS]    # topology.toml, certs/, node configs; PORTS: "free" or
#                                  # "C2S R2R ADMIN" preferred (free ones where taken)
#   mesh_provision CSV             # split a population by its home column, import per cluster
#   mesh_start 1 warn              # loops per node, log level
#   mesh_wait 60                   # every link established, every directory sync complete
#   mesh_counters                  # per-node counters from /metrics (+ DIR/nodes.json)
#
# Needs: $bin (router/xmeshd, ctl/xmeshctl), /usr/bin/python3, curl.

mesh_dir=""
mesh_topology=""
mesh_nodes=()              # node ids, topology order
mesh_clusters=()           # cluster ids, topology order
declare -A mesh_cluster_of mesh_host mesh_c2s mesh_r2r mesh_admin mesh_pid

mesh_cluster_names=(alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo
  lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray
  yankee zulu)

mesh_ctl() { "${bin:?mesh-lib.sh: set bin to the build dir}/ctl/xmeshctl" "$@"; }

# Prints one port per ADDRESS:PREFERRED argument, each bound (and held) until all are
# chosen, so no two answers collide; PREFERRED 0, or a preferred port that is taken,
# gives a free one.
mesh_pick_ports() {
  /usr/bin/python3 - "$@" <<'PY'
import socket, sys
held = []
for arg in sys.argv[1:]:
    addr, pref = arg.rsplit(":", 1)
    for port in ([int(pref)] if int(pref) else []) + [0]:
        s = socket.socket()
        try:
            s.bind((addr, port))
        except OSError:
            s.close()
            continue
        held.append(s)
        print(s.getsockname()[1])
        break
PY
}

# mesh_layout DIR CLUSTERS NODES_PER_CLUSTER [PORTS]
mesh_layout() {
  mesh_dir="$1"
  local clusters="$2" per="$3" ports="${4:-free}"
  local pc=0 pr=0 pa=0
  [[ "$ports" == free ]] || read -r pc pr pa <<< "$ports"
  ((clusters >= 1 && clusters <= ${#mesh_cluster_names[@]})) || { echo "mesh: 1 to ${#mesh_cluster_names[@]} clusters" >&2; return 1; }
  ((per >= 1 && per <= 6)) || { echo "mesh: 1 to 6 nodes per cluster" >&2; return 1; }
  mkdir -p "$mesh_dir/data"
  mesh_topology="$mesh_dir/topology.toml"
  mesh_nodes=(); mesh_clusters=()
  local c n k=1 want=()
  for ((c = 0; c < clusters; c++)); do
    mesh_clusters+=("${mesh_cluster_names[c]}")
    for ((n = 1; n <= per; n++)); do
      local id="${mesh_cluster_names[c]:0:1}$n"
      k=$((k + 1))
      mesh_nodes+=("$id")
      mesh_cluster_of[$id]="${mesh_cluster_names[c]}"
      mesh_host[$id]="127.0.2.$k"
      want+=("127.0.2.$k:$pc" "127.0.2.$k:$pr" "127.0.2.$k:$pa")
    done
  done
  local picked=() i=0
  mapfile -t picked < <(mesh_pick_ports "${want[@]}")
  ((${#picked[@]} == ${#want[@]})) || { echo "mesh: could not pick ports (are 127.0.2.x usable?)" >&2; return 1; }
  for id in "${mesh_nodes[@]}"; do
    mesh_c2s[$id]="${picked[i]}"; mesh_r2r[$id]="${picked[i + 1]}"; mesh_admin[$id]="${picked[i + 2]}"
    i=$((i + 3))
  done
  mesh_write_topology
  mesh_ctl cert ca --out "$mesh_dir/certs" > /dev/null
  mesh_ctl cert node --ca "$mesh_dir/certs" --topology "$mesh_topology" --out "$mesh_dir/certs" > /dev/null
}

mesh_write_topology() {
  local cl id g members
  {
    echo "# A local mesh made by scripts/mesh-lib.sh: ${#mesh_clusters[@]} clusters x" \
      "$((${#mesh_nodes[@]} / ${#mesh_clusters[@]})) nodes on 127.0.2.x (format: topology/example-full.toml)."
    echo 'domain = "localhost"'
    echo 'assignment = "balanced"'
    echo
    echo '[security]'
    echo 'secure = true'
    echo 'ca_file = "certs/ca.pem"'
    echo 'cert_file = "certs/{node}.pem"'
    echo 'key_file = "certs/{node}.key"'
    for cl in "${mesh_clusters[@]}"; do
      printf '\n[[clusters]]\nid = "%s"\n' "$cl"
      members=()
      for id in "${mesh_nodes[@]}"; do
        [[ "${mesh_cluster_of[$id]}" == "$cl" ]] || continue
        members+=("$id")
        printf '\n  [[clusters.nodes]]\n  id = "%s"\n  host = "%s"\n  c2s_port = %s\n  r2r_port = %s\n  admin_port = %s\n' \
          "$id" "${mesh_host[$id]}" "${mesh_c2s[$id]}" "${mesh_r2r[$id]}" "${mesh_admin[$id]}"
      done
      # Presence redundancy groups: the nodes two by two (a lone last node alone).
      for ((g = 0; g < ${#members[@]}; g += 2)); do
        if ((g + 1 < ${#members[@]})); then
          printf '\n  [[clusters.groups]]\n  id = "%s-prg%d"\n  nodes = ["%s", "%s"]\n  ha = true\n' \
            "${cl:0:1}" $((g / 2 + 1)) "${members[g]}" "${members[g + 1]}"
        else
          printf '\n  [[clusters.groups]]\n  id = "%s-prg%d"\n  nodes = ["%s"]\n' "${cl:0:1}" $((g / 2 + 1)) "${members[g]}"
        fi
      done
    done
  } > "$mesh_topology"
}

# With mesh_pg_url (a PostgreSQL server's base URL, mesh_pg_dir its scripts/pg-local dir)
# every cluster gets a database of its own on it instead of an SQLite file.
mesh_pg_url="${mesh_pg_url:-}"
mesh_store() {
  if [[ -n "$mesh_pg_url" ]]; then echo "$mesh_pg_url/xmesh_$1"; else echo "$mesh_dir/data/$1.db"; fi
}

# The ids of a cluster's nodes, comma-separated (for awk).
mesh_cluster_nodes() {
  local id out=""
  for id in "${mesh_nodes[@]}"; do [[ "${mesh_cluster_of[$id]}" == "$1" ]] && out+="${out:+,}$id"; done
  echo "$out"
}

# mesh_split CSV OUTDIR: OUTDIR/<cluster>.csv holds the lines of CSV whose home (4th
# column) is a node of that cluster. Rosters name contacts by bare JID, so contacts in
# other clusters are fine. Fails if a line has no home of this mesh.
mesh_split() {
  local csv="$1" out="$2" cl spec=""
  mkdir -p "$out"
  for cl in "${mesh_clusters[@]}"; do spec+="${spec:+ }$cl=$(mesh_cluster_nodes "$cl")"; done
  awk -F, -v spec="$spec" -v out="$out" '
    BEGIN { n = split(spec, cs, " "); for (i = 1; i <= n; i++) { split(cs[i], kv, "="); m = split(kv[2], ns, ",")
              for (j = 1; j <= m; j++) cluster[ns[j]] = kv[1]; printf "" > (out "/" kv[1] ".csv") } }
    /^(#|$)/ { next }
    { c = cluster[$NF]; if (c == "") { print "mesh_split: line " NR ": home \"" $NF "\" is no node of this mesh" > "/dev/stderr"; bad = 1; exit 1 }
      print > (out "/" c ".csv") }
    END { exit bad }' "$csv"
}

# mesh_import DIR_OF_SPLIT_CSVS: each cluster's store gets its own users only.
mesh_import() {
  local cl
  for cl in "${mesh_clusters[@]}"; do
    printf '  %-8s ' "$cl"
    [[ -n "$mesh_pg_url" ]] && "$root/scripts/pg-local" createdb "$mesh_pg_dir" "xmesh_$cl"
    mesh_ctl --db "$(mesh_store "$cl")" import "$1/$cl.csv"
  done
}

# mesh_start LOOPS LOG_LEVEL: one xmeshd per node, config in DIR/<node>.toml, log in
# DIR/<node>.log, data (self-signed c2s certificate) in DIR/data/<node>/.
mesh_start() {
  local loops="$1" level="$2" id
  # One TLS ticket key secret for the mesh: a client failing over to its node's peer
  # resumes its TLS session there (tls.ticket_key_file).
  (umask 077; head -c 32 /dev/urandom > "$mesh_dir/ticket.key")
  for id in "${mesh_nodes[@]}"; do
    mkdir -p "$mesh_dir/data/$id"
    cat > "$mesh_dir/$id.toml" <<TOML
# Node $id of $mesh_topology (listeners come from the topology).
domain = "localhost"
node_id = "$id"
loops = $loops
data_dir = "$mesh_dir/data/$id"
$([[ -n "$mesh_pg_url" ]] && echo store || echo store_path) = "$(mesh_store "${mesh_cluster_of[$id]}")"
scram_iterations = 4096
log_level = "$level"
[tls]
ticket_key_file = "$mesh_dir/ticket.key"
TOML
    "$bin/router/xmeshd" --config "$mesh_dir/$id.toml" --topology "$mesh_topology" --node "$id" \
      > "$mesh_dir/$id.log" 2>&1 < /dev/null &
    mesh_pid[$id]=$!
    pids+=("$!")
  done
}

# Lines "id host admin_port pid" for the Python helpers.
mesh_node_table() {
  local id
  for id in "${mesh_nodes[@]}"; do echo "$id ${mesh_host[$id]} ${mesh_admin[$id]} ${mesh_pid[$id]:-0}"; done
}

# mesh_wait TIMEOUT: until every node answers /status with every r2r link established and
# its directory sync complete. Fails early when a node exits (its log tail on stderr).
mesh_wait() {
  mesh_node_table | /usr/bin/python3 -c '
import json, os, sys, time, urllib.request
timeout = float(sys.argv[1]); logdir = sys.argv[2]
nodes = [l.split() for l in sys.stdin if l.strip()]
deadline, last = time.monotonic() + timeout, "no answer yet"
while time.monotonic() < deadline:
    ok = True
    for nid, host, admin, pid in nodes:
        try:
            os.kill(int(pid), 0)
        except OSError:
            tail = open(os.path.join(logdir, nid + ".log"), errors="replace").read().splitlines()[-15:]
            sys.exit(f"mesh: node {nid} exited; {logdir}/{nid}.log:\n  " + "\n  ".join(tail))
        try:
            with urllib.request.urlopen(f"http://{host}:{admin}/status", timeout=2) as r:
                mesh = json.load(r)["mesh"]
        except (OSError, ValueError, KeyError) as e:
            ok, last = False, f"{nid}: /status: {e}"
            break
        down = [l["peer"] for l in mesh["links"] if l["state"] != "established"]
        complete = mesh["directory_complete"]
        if down or not complete:
            ok, last = False, f"{nid}: links not established {down}, directory complete {complete}"
            break
    if ok:
        sys.exit(0)
    time.sleep(0.2)
sys.exit(f"mesh: not up after {timeout:.0f} s ({last})")
' "$1" "$mesh_dir"
}

# mesh_wait_idle TIMEOUT: until no node has a client connection or an unacknowledged r2r
# unit (the logouts of a run fanned out and acknowledged), at most TIMEOUT seconds;
# prints what is left then. Never fails.
mesh_wait_idle() {
  mesh_node_table | /usr/bin/python3 -c '
import sys, time, urllib.request
nodes = [l.split() for l in sys.stdin if l.strip()]
deadline = time.monotonic() + float(sys.argv[1])
while True:
    busy = []
    for nid, host, admin, _ in nodes:
        conns = units = 0
        try:
            with urllib.request.urlopen(f"http://{host}:{admin}/metrics", timeout=2) as r:
                for line in r.read().decode().splitlines():
                    if line.startswith("xmesh_connections "):
                        conns += int(float(line.split()[1]))
                    elif line.startswith("xmesh_r2r_queue_units{"):
                        units += int(float(line.rsplit(" ", 1)[1]))
        except OSError:
            continue
        if conns or units:
            busy.append(f"{nid}: {conns} connections, {units} r2r units unacknowledged")
    if not busy:
        break
    if time.monotonic() > deadline:
        print("  still busy after " + sys.argv[1] + " s: " + "; ".join(busy))
        break
    time.sleep(0.25)
' "$1" || true
}

# mesh_peak_sampler FILE (run in the background): every second, xmesh_online_users of
# every node; FILE holds the peaks so far, "total id=n id=n ..." (total: of the sums).
mesh_peak_sampler() {
  mesh_node_table > "$mesh_dir/nodes.txt"
  # exec: `mesh_peak_sampler F &` leaves $! = the sampler itself, for the caller's kill.
  exec /usr/bin/python3 -c '
import sys, time, urllib.request
nodes = [l.split() for l in sys.stdin if l.strip()]
peak, total_peak = {n[0]: 0 for n in nodes}, 0
while True:
    time.sleep(1)
    total = 0
    for nid, host, admin, _ in nodes:
        try:
            with urllib.request.urlopen(f"http://{host}:{admin}/metrics", timeout=2) as r:
                for line in r.read().decode().splitlines():
                    if line.startswith("xmesh_online_users "):
                        v = int(float(line.split()[1]))
                        total += v
                        peak[nid] = max(peak[nid], v)
        except OSError:
            pass
    total_peak = max(total_peak, total)
    with open(sys.argv[1], "w") as f:
        print(total_peak, *(f"{k}={v}" for k, v in peak.items()), file=f)
' "$1" < "$mesh_dir/nodes.txt"
}

# mesh_counters [PEAKS_FILE]: a table of each node's counters from /metrics (sums over
# labels), its CPU time and RSS from /proc, and its non-zero error reasons; writes the
# same to DIR/nodes.json. PEAKS_FILE: "total id=n ..." peaks of online users.
mesh_counters() {
  mesh_node_table | /usr/bin/python3 -c '
import json, os, sys, urllib.request
out_path, peaks_path = sys.argv[1], sys.argv[2]
peaks = {}
try:
    peaks = dict(p.split("=") for p in open(peaks_path).read().split()[1:])
except (OSError, ValueError):
    pass
tick = os.sysconf("SC_CLK_TCK")
def metrics(host, admin):
    m = {}
    with urllib.request.urlopen(f"http://{host}:{admin}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if not line or line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            name, _, labels = key.partition("{")
            try:
                m.setdefault(name, {})[labels.rstrip("}")] = float(value)
            except ValueError:
                pass
    return m
def total(m, name):
    return int(sum(m.get(name, {}).values()))
cols = [("peak online", None), ("logins", "xmesh_auth_success_total"),
        ("sessions", "xmesh_sessions"), ("stanzas in", "xmesh_stanzas_in_total"),
        ("stanzas out", "xmesh_stanzas_out_total"), ("mesh fwd", "xmesh_mesh_forwarded_total"),
        ("mesh recv", "xmesh_mesh_received_total"), ("r2r resent", "xmesh_r2r_units_resent_total"),
        ("errors", "xmesh_errors_total")]
rows, report = [], {}
for nid, host, admin, pid in (l.split() for l in sys.stdin if l.strip()):
    try:
        m = metrics(host, admin)
    except OSError as e:
        print(f"  {nid}: /metrics unreachable ({e})")
        report[nid] = {"reachable": False}
        continue
    r = {"reachable": True, "peak_online": int(peaks.get(nid, -1))}
    for label, name in cols[1:]:
        r[name] = total(m, name)
    r["errors_by_reason"] = {k.split("\"")[1]: int(v) for k, v in m.get("xmesh_errors_total", {}).items() if v}
    r["r2r_errors"] = total(m, "xmesh_r2r_errors_total")
    try:
        st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        r["cpu_s"] = round((int(st[11]) + int(st[12])) / tick, 1)
        r["rss_mib"] = int(open(f"/proc/{pid}/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20
    except (OSError, IndexError, ValueError):
        r["cpu_s"], r["rss_mib"] = "?", "?"
    report[nid] = r
    rows.append([nid, r["peak_online"] if r["peak_online"] >= 0 else "?"] +
                [r[name] for _, name in cols[1:]] + [r["cpu_s"], r["rss_mib"]])
head = ["node"] + [c for c, _ in cols] + ["cpu s", "RSS MiB"]
w = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
for row in [head] + rows:
    print("  " + "  ".join(str(x).rjust(n) if i else str(x).ljust(n) for i, (x, n) in enumerate(zip(row, w))))
for nid, r in report.items():
    if r.get("errors_by_reason"):
        print(f"  {nid} errors: " + ", ".join(f"{k} {v}" for k, v in sorted(r["errors_by_reason"].items())))
json.dump(report, open(out_path, "w"), indent=1)
' "$mesh_dir/nodes.json" "${1:-/dev/null}"
}
