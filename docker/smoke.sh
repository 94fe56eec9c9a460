#!/usr/bin/env bash
# Builds docker/Dockerfile.beam-worker and docker/Dockerfile.train with podman on a machine that reaches no image
# registry (only the Debian archive and PyPI), then runs the README's main job in them: pixel-render in the worker
# image, pixel-train demo in the training image, on one shared directory. Results: docker/README.md "Smoke run".
#
#   bash docker/smoke.sh            # as root; needs podman, runc, mmdebstrap (apt-get installs them when missing)
#
# The base image is Debian bookworm (python3.11) made by mmdebstrap from the Debian archive and given to both
# Dockerfiles as BASE. Settings (environment): SMOKE_DIR (scratch, default /work/scratch/docker),
# TORCH_WHEELS (a directory holding the CPU torch wheel, default /opt/wheels when it has one; otherwise pip
# uses the CPU index https://download.pytorch.org/whl/cpu), HOST_CA (a CA bundle pip in the build should trust,
# default $PIP_CERT: this machine reaches PyPI through a TLS-intercepting proxy), REBUILD_BASE=1 (make the
# Debian base again).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SMOKE_DIR=${SMOKE_DIR:-/work/scratch/docker}
BASE=localhost/pixelkit-debian:bookworm
WORKER=localhost/pixelkit-beam-worker:smoke
TRAIN=localhost/pixelkit-train:smoke-cpu
# runc, not crun; and explicit limits: podman's defaults ask for rlimits these machines refuse.
LIMITS=(--runtime runc --ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
mkdir -p "$SMOKE_DIR"
summary=$SMOKE_DIR/summary.txt
: > "$summary"
note() { echo "$*" | tee -a "$summary" >&2; }
timed() {  # timed LABEL CMD...: run, log to $SMOKE_DIR/LABEL.log, record the wall time
  local label=$1; shift
  local t0=$SECONDS
  if ! "$@" > "$SMOKE_DIR/$label.log" 2>&1; then
    note "FAILED: $label (log: $SMOKE_DIR/$label.log)"; tail -30 "$SMOKE_DIR/$label.log" >&2; exit 1
  fi
  note "$label: $((SECONDS - t0)) s"
}

missing=()
for tool in podman runc mmdebstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "needs root and: apt-get install -y ${missing[*]}" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# 1. The base: Debian bookworm (Python 3.11.2, venv) from the Debian archive.
if [ "${REBUILD_BASE:-0}" = 1 ] || ! podman image exists "$BASE"; then
  rm -f "$SMOKE_DIR/bookworm-base.tar"
  timed base-mmdebstrap mmdebstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$SMOKE_DIR/bookworm-base.tar" http://deb.debian.org/debian
  timed base-import podman import --change 'CMD ["/bin/bash"]' "$SMOKE_DIR/bookworm-base.tar" "$BASE"
fi

# 2. The images, FROM that base. --network host: the RUN steps reach the Debian archive and PyPI.
BUILD=(podman build "${LIMITS[@]}" --network host --build-arg "BASE=$BASE")
HOST_CA=${HOST_CA:-${PIP_CERT:-}}
[ -z "$HOST_CA" ] || BUILD+=(-v "$HOST_CA:/etc/pixelkit-build-ca.crt:ro" --build-arg PIP_CERT=/etc/pixelkit-build-ca.crt)
TORCH_WHEELS=${TORCH_WHEELS:-/opt/wheels}
if compgen -G "$TORCH_WHEELS/torch-*+cpu-*.whl" >/dev/null; then
  CPU_TORCH=(-v "$TORCH_WHEELS:/wheels:ro" --build-arg PIP_FIND_LINKS=/wheels)
else
  CPU_TORCH=(--build-arg PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu)
fi
timed build-beam-worker "${BUILD[@]}" -f docker/Dockerfile.beam-worker -t "$WORKER" .
timed build-train "${BUILD[@]}" "${CPU_TORCH[@]}" -f docker/Dockerfile.train -t "$TRAIN" .
for img in "$BASE" "$WORKER" "$TRAIN"; do
  note "image $img: $(podman image inspect --format '{{.Size}}' "$img" | awk '{printf "%.2f GB", $1 / 1e9}')"
done

# 3. The main job across the two images, offline: the worker image renders, the training image trains.
work=$SMOKE_DIR/work
rm -rf "$work" && mkdir -p "$work"
RUN=(podman run --rm "${LIMITS[@]}" --network none -v "$work:/workspace")
timed worker-env "${RUN[@]}" --entrypoint python "$WORKER" -c '
import shutil, sys, apache_beam, apache_beam.runners.worker.sdk_worker_main, pixelkit.pipeline.render.pangocairo
assert sys.prefix == "/opt/pixelkit/.venv", sys.prefix                 # the python Beam boot would start
assert shutil.which("python") == "/opt/pixelkit/.venv/bin/python", shutil.which("python")
assert apache_beam.__version__ == "2.77.0", apache_beam.__version__
print("worker python", sys.version.split()[0], "beam", apache_beam.__version__)'
timed pixel-render "${RUN[@]}" --entrypoint pixel-render "$WORKER"
timed pixel-train-demo "${RUN[@]}" "$TRAIN" pixel-train demo
for f in out/pixel-gray/manifest.json out/pixar-binary/manifest.json out/train/pixel/model/model.safetensors \
         out/train/pixar/model/model.safetensors; do
  [ -s "$work/$f" ] || { note "FAILED: $f missing"; exit 1; }
done
note "rendered: $(grep -E '^pixel-gray:|^pixar-binary:' "$SMOKE_DIR/pixel-render.log" | tr '\n' ' ')"
note "trained: $(grep -E 'step (5|40)/40' "$SMOKE_DIR/pixel-train-demo.log" | sed 's/.*INFO //' | tr '\n' ' ')"

# 4. The worker image as a Beam worker pool (what Flink / Spark workers run): a driver container sends the job's
# bundles to a pool container over the Fn API; its shards must equal the same job's on the local runner.
POOL_PORT=${POOL_PORT:-50777}
POOL=pixelkit-smoke-pool-$POOL_PORT
NET=(podman run --rm "${LIMITS[@]}" --network host -v "$work:/workspace")
job=(--input wikitext=/opt/pixelkit/pipeline/sample_data/wikitext-2-test-excerpt.txt)
podman rm -f "$POOL" >/dev/null 2>&1 || true
podman run -d --name "$POOL" "${LIMITS[@]}" --network host -v "$work:/workspace" --entrypoint python \
  "$WORKER" -m apache_beam.runners.worker.worker_pool_main --service_port="$POOL_PORT" >/dev/null
trap 'podman rm -f "$POOL" >/dev/null 2>&1 || true' EXIT
timed worker-pool-job "${NET[@]}" -v "$REPO/docker:/smoke:ro" --entrypoint python "$WORKER" /smoke/worker_pool_job.py \
  "localhost:$POOL_PORT" "${job[@]}" --output /workspace/pool-out
podman logs "$POOL" > "$SMOKE_DIR/worker-pool.log" 2>&1
grep -q "Starting worker with command" "$SMOKE_DIR/worker-pool.log" || { note "FAILED: the pool started no worker"; exit 1; }
timed local-runner-job "${RUN[@]}" --entrypoint pixel-render "$WORKER" run "${job[@]}" --output /workspace/local-out
for f in $(cd "$work/local-out" && ls *.tar dead_letters.jsonl manifest.json); do
  cmp -s "$work/local-out/$f" "$work/pool-out/$f" || { note "FAILED: $f differs between the worker pool and the local runner"; exit 1; }
done
note "worker pool: $(tail -1 "$SMOKE_DIR/worker-pool-job.log"); shards, manifest and dead letters byte-identical to the local runner's"
note "smoke OK: shards and both trained models in $work/out"
