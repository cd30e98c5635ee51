#!/usr/bin/env bash
# Stops the control plane .ci/kube-up.sh started in a state dir: every component whose pid file is
# there and whose process is still ours, in reverse start order; then checks that none is left.
# Keeps the state dir (logs, certificates) for a look afterwards; kube-up.sh clears it.
#
#   bash .ci/kube-down.sh [--state-dir DIR]      # DIR: as for kube-up.sh
set -Eeuo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=control-plane.sh
source "$REPO/.ci/control-plane.sh"

while [ $# -gt 0 ]; do
  case $1 in
    --state-dir) STATE_DIR=$2; shift 2 ;;
    -h|--help) sed -n '2,6p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "kube-down: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
STATE_DIR=$(cp_state_dir "${STATE_DIR:-}")
[ -d "$STATE_DIR/pids" ] || exit 0

for (( i=${#CP_COMPONENTS[@]} - 1; i >= 0; i-- )); do
  cp_stop "$STATE_DIR" "${CP_COMPONENTS[i]}" || true
done
left=()
for name in "${CP_COMPONENTS[@]}"; do
  if pid=$(cp_pid "$STATE_DIR" "$name"); then left+=("$name:$pid"); fi
done
if [ ${#left[@]} -gt 0 ]; then
  echo "kube-down: still running: ${left[*]}" >&2
  exit 1
fi
