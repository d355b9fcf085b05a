#!/usr/bin/env bash
# Download, here, the wheels gpu_session.sh needs on a GPU machine that has torch and nvidia-ml-py
# but no Jupyter stack and no package index (Python 3.12, x86-64 Linux), into .whl/:
#   bash benchmarks/gpu_wheels.sh
# Packages that machine already has (torch, numpy, pandas, psutil, nvidia-ml-py, pytest, ...) are
# removed again, so that one version of each is installed there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
mkdir -p .whl
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >>.git/info/exclude
platforms=()
for n in 17 24 27 28 31 34 35; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
"$PY" -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp "${platforms[@]}" \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl \
  platformdirs ipython ipykernel nbclient nbformat ipywidgets bqplot
# Already on the GPU machine (its image's package list): keep theirs.
for have in numpy pandas psutil torch nvidia_ml_py pytest hypothesis packaging pygments jinja2 markupsafe \
            attrs typing_extensions six python_dateutil setuptools wheel filelock \
            matplotlib pillow; do
  rm -f .whl/"${have}"-*.whl
done
ls .whl | wc -l | xargs echo "wheels in .whl:"
du -sh .whl
