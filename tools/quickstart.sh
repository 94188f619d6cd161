#!/usr/bin/env bash
# The README's two commands. Each installs what is missing (tools/install_env.sh,
# idempotent, into ./.venv) and then:
#   bash tools/quickstart.sh demo   trains + evaluates the embedded default (CPU, minutes)
#   bash tools/quickstart.sh test   runs the whole test suite (slow tests included)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bash tools/install_env.sh
py="${VITDET_VENV:-$here/.venv}/bin/python"
case "${1:-}" in
  demo)
    shift
    exec "$py" tools/train_net.py --config-file configs/demo/vit_tiny_shapes.py "$@"
    ;;
  test)
    shift
    exec "$py" -m pytest -q -ra "$@"
    ;;
  *)
    echo "usage: bash tools/quickstart.sh demo|test [extra args]" >&2
    exit 2
    ;;
esac
