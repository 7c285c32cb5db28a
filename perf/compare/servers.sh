# Sourced by perf/compare: start, provision and stop one server under test.
# Every server is our own child process, pinned with taskset to $SERVER_CPU, listening on
# 127.0.0.1:$port, with its config and data in $WORK/<server>; its PID (the process whose
# /proc RSS and CPU are read) goes to $WORK/<server>/pid. Nothing here touches system
# services or their files.

wait_port() {  # PORT PID SECONDS: until something listens on 127.0.0.1:PORT
  local port=$1 pid=$2 deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || { echo "compare: server pid $pid died" >&2; return 1; }
    if /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  echo "compare: nothing listens on port $port after $3 s" >&2
  return 1
}

stop_server() {  # NAME: TERM, then KILL after 10 s, by PID only
  local pidf=$WORK/$1/pid pid
  [[ -f $pidf ]] || return 0
  pid=$(<"$pidf")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidf"
}

# xmesh: bulk import (xmeshctl import, scram1 secrets as they are), then xmeshd --loops 1.
start_xmesh() {
  local d=$WORK/xmesh port=$1
  mkdir -p "$d/data"
  cat >"$d/xmeshd.toml" <<EOF
domain = "$DOMAIN"
node_id = "cmp1"
loops = 1
data_dir = "$d/data"
log_level = "warn"
[listen]
c2s_address = "127.0.0.1"
c2s_port = $port
admin_port = 0
[tls]
cert_file = "$WORK/tls.crt"
key_file = "$WORK/tls.key"
EOF
  "$XMESHCTL" --db "$d/data/xmesh.db" import "$POP" >"$d/import.log" 2>&1 || { cat "$d/import.log" >&2; return 1; }
  taskset -c "$SERVER_CPU" "$XMESHD" --config "$d/xmeshd.toml" --loops 1 >"$d/out.log" 2>&1 &
  echo $! >"$d/pid"
  wait_port "$port" "$!" 30
}

# ejabberd 23.01: erl started directly (no ejabberdctl, no epmd, no distribution), one
# scheduler (+S 1:1), mnesia in our dir; ejabberd_provision.erl runs inside the node once
# it started and writes passwd (SCRAM-SHA-1) and roster rows straight into mnesia.
start_ejabberd() {
  local d=$WORK/ejabberd port=$1
  mkdir -p "$d/db" "$d/log"
  cat "$WORK/tls.crt" "$WORK/tls.key" >"$d/tls.pem"
  sed -e "s|@DOMAIN@|$DOMAIN|g; s|@DIR@|$d|g; s|@PORT@|$port|g" "$HERE/ejabberd.yml.in" >"$d/ejabberd.yml"
  local eval_="B = lists:foldl(fun({K,V},A) -> erl_eval:add_binding(K,V,A) end, erl_eval:new_bindings(),
    [{'Csv',\"$POP\"},{'Host',\"$DOMAIN\"},{'Done',\"$d/provisioned\"}]),
    case catch file:script(\"$HERE/ejabberd_provision.erl\", B) of {ok,_} -> ok;
      E -> file:write_file(\"$d/provision.err\", io_lib:format(\"~p~n\",[E])) end."
  (cd "$d" && HOME=$d ERL_LIBS=/usr/lib/x86_64-linux-gnu EJABBERD_CONFIG_PATH=$d/ejabberd.yml \
     EJABBERD_LOG_PATH=$d/log/ejabberd.log ERL_CRASH_DUMP=$d/log/erl_crash.dump ERL_MAX_PORTS=65536 \
     exec taskset -c "$SERVER_CPU" /usr/bin/erl -noinput -noshell +K true +P 1000000 +S 1:1 +SDcpu 1:1 \
       -mnesia dir "\"$d/db\"" -s ejabberd -eval "$eval_" >"$d/out.log" 2>&1) &
  echo $! >"$d/pid"
  local pid=$! deadline=$((SECONDS + 600))
  while [[ ! -f $d/provisioned ]]; do
    if [[ -f $d/provision.err ]] || ! kill -0 "$pid" 2>/dev/null || ((SECONDS > deadline)); then
      echo "compare: ejabberd provisioning failed:" >&2; cat "$d/provision.err" "$d/out.log" >&2 2>/dev/null
      return 1
    fi
    sleep 0.5
  done
  echo "ejabberd: $(<"$d/provisioned")"
  wait_port "$port" "$pid" 60
}

# Prosody 0.12: data files written by provision.py, then `prosody -F` as our child.
start_prosody() {
  local d=$WORK/prosody port=$1
  mkdir -p "$d/certs"
  cp "$WORK/tls.crt" "$d/tls.crt"; cp "$WORK/tls.key" "$d/tls.key"
  sed -e "s|@DOMAIN@|$DOMAIN|g; s|@DIR@|$d|g; s|@PORT@|$port|g" "$HERE/prosody.cfg.lua.in" >"$d/prosody.cfg.lua"
  /usr/bin/python3 "$HERE/provision.py" prosody "$POP" "$d/data" "$DOMAIN"
  taskset -c "$SERVER_CPU" /usr/bin/prosody --config "$d/prosody.cfg.lua" -F >"$d/out.log" 2>&1 &
  echo $! >"$d/pid"
  wait_port "$port" "$!" 30
}
