# shellcheck shell=bash
# Process plumbing shared by kube-up.sh and kube-down.sh (sourced; defines functions, runs nothing).
#
# Every component runs in its own session, writes logs/NAME.log and has its pid in pids/NAME.pid
# under the state dir. Each one's command line names the state dir (a --data-dir, --kubeconfig,
# ...), which is how a pid is checked to still be ours before it is signalled: a pid file left by
# a crashed run may name a process that has nothing to do with us.

CP_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
CP_MARKER=.seasonal-engines-control-plane

cp_state_dir() {  # the state dir: $1, else $SEASONAL_CLUSTER_DIR, else a per-user temp dir
  local dir=${1:-${SEASONAL_CLUSTER_DIR:-${TMPDIR:-/tmp}/seasonal-engines-cluster-$(id -u)}}
  mkdir -p "$dir"
  (cd "$dir" && pwd)
}

cp_prepare_state_dir() {  # empty DIR for a fresh start, refusing a directory that is not ours
  local dir=$1
  if [ -n "$(ls -A "$dir")" ] && [ ! -e "$dir/$CP_MARKER" ]; then
    echo "control plane: $dir is not empty and was not made by kube-up.sh; pass another --state-dir" >&2
    return 1
  fi
  find "$dir" -mindepth 1 -delete
  : >"$dir/$CP_MARKER"
}

cp_pid() {  # cp_pid DIR NAME: the component's pid when it runs and is ours, else nothing
  local pidfile=$1/pids/$2.pid pid cmdline
  [ -s "$pidfile" ] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmdline=$( { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null) || return 1
  [[ $cmdline == *"$1/"* ]] || return 1
  # A zombie (exited, not yet reaped) no longer runs.
  [[ $(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null) != Z ]] || return 1
  echo "$pid"
}

cp_all_running() {
  local name
  for name in "${CP_COMPONENTS[@]}"; do cp_pid "$1" "$name" >/dev/null || return 1; done
}

cp_free_ports() {  # N distinct free TCP ports on 127.0.0.1 (the kernel picks them)
  python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

cp_kubectl_bin() {
  local bin=${SEASONAL_KUBECTL_BIN:-$(command -v kubectl || true)}
  if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "control plane: kubectl not found; put it on PATH (python -m tests.testbed.binaries --install-dir ~/.local/bin) or set SEASONAL_KUBECTL_BIN" >&2
    return 1
  fi
  echo "$bin"
}

cp_kubectl() {  # cp_kubectl DIR ARGS...: kubectl as the admin, its discovery cache in DIR
  KUBECACHEDIR="$1/kube-cache" "${KUBECTL:-$(cp_kubectl_bin)}" --kubeconfig="$1/admin.kubeconfig" "${@:2}"
}

cp_start() {  # cp_start DIR NAME BINARY ARGS...: start it in its own session, log and pid in DIR
  local dir=$1 name=$2
  shift 2
  setsid "$@" </dev/null >>"$dir/logs/$name.log" 2>&1 &
  local pid=$! binary tries=0
  echo "$pid" >"$dir/pids/$name.pid"
  # Until the fork has exec'd the binary its command line is this script's: wait for the exec,
  # so that cp_pid recognises the process from the first poll on.
  binary=$(readlink -f "$1")
  while [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" != "$binary" ] && [ $tries -lt 250 ]; do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
    tries=$((tries + 1))
  done
}

cp_log_tail() {  # the error lines and the last lines of a component's log, for a failure message
  local log=$1/logs/$2.log
  echo "--- error lines of $log ---"
  grep -E '^[EF][0-9]{4} |"level":"(error|fatal|panic)"|level=ERROR|\bfatal\b|\bpanic\b' "$log" 2>/dev/null | tail -n 15 | cut -c1-400
  echo "--- last lines of $log ---"
  tail -n 25 "$log" 2>/dev/null | cut -c1-400
}

cp_wait() {  # cp_wait DIR NAME DEADLINE WHAT COMMAND...: poll COMMAND until it succeeds
  local dir=$1 name=$2 deadline=$3 what=$4
  shift 4
  while true; do
    # Not found twice, half a second apart: one look can land inside an exec (an empty or a
    # half-written /proc/PID/cmdline), which a CI run once took for an exit.
    if ! cp_pid "$dir" "$name" >/dev/null && ! { sleep 0.5; cp_pid "$dir" "$name" >/dev/null; }; then
      echo "control plane: $name exited before $what" >&2
      cp_log_tail "$dir" "$name" >&2
      return 1
    fi
    "$@" >/dev/null 2>&1 && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "control plane: timed out waiting for $what" >&2
      cp_log_tail "$dir" "$name" >&2
      return 1
    fi
    sleep 0.2
  done
}

cp_stop() {  # cp_stop DIR NAME: SIGTERM, then SIGKILL after 10 s; the pid file goes once it is gone
  local dir=$1 name=$2 pid waited=0
  if pid=$(cp_pid "$dir" "$name"); then
    kill -TERM "$pid" 2>/dev/null || true
    while cp_pid "$dir" "$name" >/dev/null && [ $waited -lt 100 ]; do sleep 0.1; waited=$((waited + 1)); done
    if cp_pid "$dir" "$name" >/dev/null; then
      echo "control plane: $name (pid $pid) ignored SIGTERM for 10 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      waited=0
      while cp_pid "$dir" "$name" >/dev/null && [ $waited -lt 50 ]; do sleep 0.1; waited=$((waited + 1)); done
    fi
    cp_pid "$dir" "$name" >/dev/null && return 1  # kube-down.sh reports it
    echo "[kube-down] stopped $name (pid $pid)" >&2
  fi
  rm -f "$dir/pids/$name.pid"
}
