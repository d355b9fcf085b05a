#!/usr/bin/env bash
# One-shot GPU check: everything in lepton_lab that needs a real NVIDIA GPU, in one output folder.
#
#   bash benchmarks/gpu_session.sh OUT_FOLDER
#
# Under 8 minutes on one H100 or H200. Runs, each logged to OUT_FOLDER/<step>.log:
#   gpu-tests   pytest -m gpu (real NVML)
#   accuracy    benchmarks/accuracy.py: the energy counter against integrated instant power
#   overhead    benchmarks/overhead.py --sensors nvml
#   lessons     lessons 02-04 on CUDA, quick mode, executed notebooks kept
#   traces      benchmarks/record_trace.py: this GPU's power in the package's trace format
#   repeat      benchmarks/repeat_kernel.py: a ~5 ms kernel measured once and repeated until ±2 %
#               (a dry run on a CPU loop without a GPU)
# then writes OUT_FOLDER/summary.txt and packs everything into OUT_FOLDER/session.tgz.
# Without a CUDA GPU (a dry run on a CPU machine) the GPU steps are skipped, and it says so.
# Needs: root for lesson 04's power caps and clocks; python3 with torch and nvidia-ml-py; and, where
# the Jupyter stack is missing, the wheels that benchmarks/gpu_wheels.sh puts in .whl/ (installed
# here into /tmp/site). See benchmarks/README.md.
set -u
OUT=${1:?usage: bash benchmarks/gpu_session.sh OUT_FOLDER}
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
mkdir -p "$OUT/lessons" "$OUT/traces"
OUT=$(cd "$OUT" && pwd)
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"
export PYTHONUNBUFFERED=1 LEPTON_LAB_LEDGER="$OUT/ledger.sqlite" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi

say() { echo "$*" | tee -a "$SUMMARY"; }
step() {  # step NAME COMMAND...: run it, log it, time it; a failure is recorded and the session goes on
  local name=$1 start=$SECONDS
  shift
  if "$@" >"$OUT/$name.log" 2>&1; then say "$name: ok in $((SECONDS - start)) s"
  else say "$name: FAILED (exit $?) after $((SECONDS - start)) s: see $name.log"; tail -n 5 "$OUT/$name.log" | sed 's/^/    /' | tee -a "$SUMMARY"
  fi
}
skip() { say "$1: skipped: $2"; }

GPU=0
if "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then GPU=1; fi
say "lepton_lab GPU session, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(hostname)"
{ "$PY" --version; nvidia-smi -q 2>&1 | head -40; "$PY" -m pip list 2>/dev/null | grep -iE "torch|nvidia-ml|ipython|nbclient|lepton"; } >"$OUT/environment.txt" 2>&1
[ "$GPU" = 1 ] || say "no CUDA GPU here (torch sees none): a dry run, the GPU steps are skipped"

step gpu-tests "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/gpu tests/test_tradeoffs.py
if [ "$GPU" = 1 ]; then
  step accuracy "$PY" benchmarks/accuracy.py --lengths 0.5,1,3,10 --repeats 3 --json "$OUT/accuracy.json"
  step overhead "$PY" benchmarks/overhead.py --sensors nvml --repeats 100 --rounds 3 --json "$OUT/overhead.json"
  step lessons env LEPTON_FAST=1 "$PY" benchmarks/run_lessons.py "$OUT/lessons" 02 03 04
  step traces "$PY" benchmarks/record_trace.py "$OUT/traces" --seconds 20
  step repeat "$PY" benchmarks/repeat_kernel.py --until 0.02 --json "$OUT/repeat.json"
else
  for name in accuracy overhead lessons traces; do skip "$name" "needs a CUDA GPU"; done
  step repeat "$PY" benchmarks/repeat_kernel.py --dry-run --until 0.05 --json "$OUT/repeat.json"
fi
say "total: $SECONDS s"
tar -czf "$OUT/session.tgz" -C "$OUT" --exclude session.tgz . 2>/dev/null && say "everything: $OUT/session.tgz"
