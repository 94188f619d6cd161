#!/usr/bin/env bash
# The GPU check in one command (see benchmarks/gpu_suite.py for what it writes).
#
#   bash benchmarks/gpu_suite.sh --out DIR [--quick]      # one GPU: pytest -m cuda + GPU table
#   bash benchmarks/gpu_suite.sh --device cpu --tiny --out DIR   # CPU rehearsal (CI runs it)
#   bash benchmarks/gpu_suite.sh --prepare-wheels .whl    # with PyPI: wheels for an offline GPU box
#
# Installs what is missing first, without touching a CUDA torch that is already there:
# with an importable torch (e.g. a GPU image's python3) the modules the suite lacks are
# installed from the wheel folder (--wheels, default .whl) into a scratch folder put on
# PYTHONPATH, offline and without dependencies; with no torch at all it falls back to
# tools/install_env.sh (the full ./.venv, from the package index). vitdet_bench itself runs
# from this checkout (PYTHONPATH), so nothing is installed over the machine's packages.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
py="${PYTHON:-python3}"
site="${VITDET_GPU_SITE:-${TMPDIR:-/tmp}/vitdet_gpu_site}"
export PYTHONUNBUFFERED=1
export PYTHONPATH="$here:$site${PYTHONPATH:+:$PYTHONPATH}"

for a in "$@"; do
  if [ "$a" = "--prepare-wheels" ]; then exec "$py" benchmarks/gpu_suite.py "$@"; fi
done

if ! "$py" -c "import torch" >/dev/null 2>&1; then
  echo "[gpu_suite] no importable torch for $py: installing the full environment (tools/install_env.sh)"
  bash tools/install_env.sh
  py="${VITDET_VENV:-$here/.venv}/bin/python"
fi
wheels="$here/.whl"
prev=""
for a in "$@"; do
  if [ "$prev" = "--wheels" ]; then wheels="$a"; fi
  prev="$a"
done
"$py" benchmarks/gpu_suite.py --install-only --wheels "$wheels" --site "$site"
exec "$py" benchmarks/gpu_suite.py --site "$site" "$@"
