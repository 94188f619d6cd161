#!/usr/bin/env bash
# The one place that installs vitdet_bench and what it needs, idempotently.
#
#   bash tools/install_env.sh            # creates ./.venv (or uses $VITDET_VENV)
#
# 1. torch 2.14.1 / torchvision 0.29.1 (taken from the local wheel store when
#    the machine has one, else from the index).
# 2. detectron2. If a `detectron2` is already importable (e.g. upstream main
#    that you built yourself) it is used as is. Otherwise the only registry copy,
#    the sdist `pb1-detectron2==0.6`, is installed *without* its C++ extension:
#    its C++ sources are not in the sdist, so we rewrite its setup.py to build
#    no extension. The runtime gaps that leaves (no detectron2._C, Pillow >= 10,
#    setuptools without pkg_resources) are bridged by vitdet_bench/compat.py.
# 3. vitdet_bench itself (editable) with its test extra.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VITDET_VENV:-$here/.venv}"
py="$venv/bin/python"
stamp="$venv/.vitdet_bench_installed"

if [ ! -x "$py" ]; then
  echo "[install_env] creating virtual environment $venv"
  python3 -m venv "$venv"
elif ! "$py" -m pip --version >/dev/null 2>&1; then
  # A venv without pip: an install interrupted while the venv was being made.
  if [ "$venv" = "$here/.venv" ]; then
    echo "[install_env] $venv has no pip (an interrupted install?): re-creating it"
    python3 -m venv --clear "$venv"
  else
    echo "[install_env] error: VITDET_VENV=$venv has no pip ($py -m pip fails); create it" \
         "with 'python3 -m venv $venv' or point VITDET_VENV elsewhere" >&2
    exit 2
  fi
fi
pip_q() { "$py" -m pip install -q --disable-pip-version-check "$@" 2>&1 | grep -v "is ignored: it is neither" || true; }

# Fast path: everything already there and setup.py unchanged since last time.
if [ -f "$stamp" ] && [ "$stamp" -nt "$here/setup.py" ] && [ "$stamp" -nt "$0" ] \
   && "$py" -c "import vitdet_bench, detectron2, torch" >/dev/null 2>&1; then
  exit 0
fi

if ! "$py" -c "import torch, torchvision; assert torch.__version__.split('+')[0] == '2.14.1'" >/dev/null 2>&1; then
  echo "[install_env] installing torch==2.14.1 torchvision==0.29.1"
  pip_q torch==2.14.1 torchvision==0.29.1
fi

if ! "$py" -c "import importlib.util as u, sys; sys.exit(u.find_spec('detectron2') is None)" >/dev/null 2>&1; then
  echo "[install_env] installing detectron2 from the pb1-detectron2==0.6 sdist, without its C++ extension"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  "$py" -m pip download -q --no-deps --no-binary :all: --no-build-isolation pb1-detectron2==0.6 -d "$tmp" 2>&1 \
    | grep -v "is ignored: it is neither" || true
  tar -xzf "$tmp"/pb1-detectron2-0.6.tar.gz -C "$tmp"
  src="$tmp/pb1-detectron2-0.6"
  # Build no extension (the sdist lacks detectron2/layers/csrc); see the script.
  bash "$here/tools/patch_detectron2_sdist.sh" "$src"
  pip_q setuptools wheel
  pip_q --no-build-isolation "$src"
fi

echo "[install_env] installing vitdet_bench (editable) with its test extra"
pip_q --no-build-isolation -e "$here[test]"
# The error-analysis reference; its opencv-python requirement would clash with
# opencv-python-headless (same cv2 module), so its other needs come from [test].
pip_q --no-deps tidecv==1.0.1
# The LVIS evaluation reference (lvis-api), likewise: it declares opencv-python.
pip_q --no-deps lvis==0.5.3
"$py" -c "import vitdet_bench, detectron2; print('[install_env] ready: detectron2', detectron2.__version__)"
touch "$stamp"
