#!/usr/bin/env bash
# The project's GPU benchmark suite in one command, on any CUDA machine: the packaging
# step (benchmarks/gpu_wheels.py), then the measuring step (benchmarks/gpu_suite.py, which
# says what it writes).
#
#   bash benchmarks/gpu_suite.sh --out DIR [--quick]      # one GPU: pytest -m cuda + GPU table
#   bash benchmarks/gpu_suite.sh --device cpu --tiny --out DIR   # CPU rehearsal (CI runs it)
#   bash benchmarks/gpu_suite.sh --prepare-wheels .whl    # with PyPI: wheels for an offline GPU machine
#
# Installs what is missing first, without touching a CUDA torch that is already there:
# with an importable torch (e.g. a GPU image's python3) the distributions the suite lacks
# are installed from the wheel folder (--wheels, default .whl) into a scratch folder put on
# PYTHONPATH, offline and without dependencies; with no torch at all it falls back to
# tools/install_env.sh (the full ./.venv, from the package index). vitdet_bench itself runs
# from this checkout (PYTHONPATH), so nothing is installed over the machine's packages.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
py="${PYTHON:-python3}"
site="${VITDET_GPU_SITE:-${TMPDIR:-/tmp}/vitdet_gpu_site}"
export PYTHONUNBUFFERED=1
export PYTHONPATH="$here:$here/projects/ConvMAE:$here/projects/iTPN:$site${PYTHONPATH:+:$PYTHONPATH}"

wheels="$here/.whl"
prev=""
rest=()
for a in "$@"; do
  if [ "$prev" = "--prepare-wheels" ]; then exec "$py" benchmarks/gpu_wheels.py prepare "$a"; fi
  if [ "$prev" = "--wheels" ]; then wheels="$a"
  elif [ "$a" != "--wheels" ] && [ "$a" != "--prepare-wheels" ]; then rest+=("$a"); fi
  prev="$a"
done
if [ "$prev" = "--prepare-wheels" ]; then
  echo "--prepare-wheels needs a folder, e.g. --prepare-wheels .whl" >&2; exit 2
fi

if ! "$py" -c "import torch" >/dev/null 2>&1; then
  echo "[gpu_suite] no importable torch for $py: installing the full environment (tools/install_env.sh)"
  bash tools/install_env.sh
  py="${VITDET_VENV:-$here/.venv}/bin/python"
fi
"$py" benchmarks/gpu_wheels.py install --wheels "$wheels" --site "$site"
exec "$py" benchmarks/gpu_suite.py ${rest[@]+"${rest[@]}"}
