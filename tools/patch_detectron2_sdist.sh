#!/usr/bin/env bash
# Patch an unpacked pb1-detectron2==0.6 sdist (folder $1) to build no C++ extension.
#
# Its C++ sources are not in the sdist, so setup.py must build no extension; the
# model-zoo configs already sit inside the package there; black is pinned to a 2021 beta
# that no longer imports with today's click (detectron2 only uses black.format_str,
# which current black still has). Used by tools/install_env.sh (install into a venv)
# and benchmarks/gpu_suite.py (a wheel to carry to an offline GPU machine).
set -euo pipefail
src="$1"
sed -i -e 's/ext_modules=get_extensions(),/ext_modules=[],/' \
       -e 's/cmdclass={"build_ext": torch.utils.cpp_extension.BuildExtension},//' "$src/setup.py"
sed -i -e 's|"detectron2.model_zoo": get_model_zoo_configs()|"detectron2.model_zoo": ["configs/**/*.yaml", "configs/**/*.py"]|' "$src/setup.py"
grep -q "ext_modules=\[\]," "$src/setup.py" || { echo "[patch_detectron2_sdist] could not patch $src/setup.py" >&2; exit 1; }
sed -i -e 's/"black==21.4b2",/"black",/' "$src/setup.py"
