#!/usr/bin/env bash
# Installs everything pixelkit needs on a fresh Debian/Ubuntu machine: the runtime libraries
# (apt) and a Python >= 3.11 virtual environment in ./.venv with the project and all extras.
# Idempotent: a second run only checks. Used by the README commands, .ci/run and the Dockerfiles.
# PIXELKIT_EXTRAS=trainer (or pipeline, "pipeline,dask", ...) installs only those extras instead of all
# (the container images); torch is installed first only when the extras include the trainer.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libpango-1.0-0 libpangocairo-1.0-0 libcairo2 fontconfig libarchive13)
missing=()
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in "${APT_PACKAGES[@]}"; do
  installed "$pkg" || installed "${pkg}t64" || missing+=("$pkg")  # Ubuntu 24.04 renamed some libs to *t64
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "Missing system libraries. Run this once as root, then re-run this script:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY=$cand; break
    fi
  done
fi
[ -n "$PY" ] || { echo "Python >= 3.11 not found (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

[ -x .venv/bin/python ] || "$PY" -m venv .venv
EXTRAS=${PIXELKIT_EXTRAS:-all}
[[ "$EXTRAS" =~ ^[a-z]+(,[a-z]+)*$ ]] || { echo "PIXELKIT_EXTRAS=$EXTRAS: give extras of pyproject.toml separated by commas, e.g. trainer or pipeline,dask" >&2; exit 1; }
stamp=.venv/.pixelkit-installed
want=$( (cat pyproject.toml docker/install.sh; [ "$EXTRAS" = all ] || echo "$EXTRAS") | sha256sum | cut -d" " -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # Debian 12's venv brings pip 23.0, which builds sdists (seqeval) the legacy way and fails; pip >= 23.1 builds
  # them in an isolated environment. A no-op when the venv's pip is new enough.
  .venv/bin/python -m pip install -q --disable-pip-version-check 'pip>=23.1'
  if [[ ",$EXTRAS," =~ ,(all|trainer), ]]; then
    # torch first: a CPU wheel where one is provided, and it keeps deepspeed from pulling another torch.
    .venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
  fi
  .venv/bin/pip install -q --disable-pip-version-check -e ".[$EXTRAS]"
  if [[ ",$EXTRAS," =~ ,(all|dev), ]]; then
    # Coqui's TTS `trainer` (+ the two it needs that .venv lacks): tests/test_namespace.py installs it beside our
    # wheel in a fresh venv to prove the two co-install; fetched here so the tests need no network.
    .venv/bin/pip download -q --disable-pip-version-check --no-deps -d .venv/wheels \
      trainer==0.0.36 coqpit==0.0.17 soundfile==0.14.0
  fi
  echo "$want" > "$stamp"
fi
echo "pixelkit environment ready: $(pwd)/.venv" >&2
