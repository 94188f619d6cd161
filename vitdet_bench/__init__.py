"""vitdet_bench: how well does ViT pre-training transfer to COCO detection?

Importing the package first makes detectron2 usable on installs without its C++
extension (see :mod:`vitdet_bench.compat`), then registers the backbones.
"""
from . import compat as _compat  # noqa: F401  (must run before detectron2 is imported)

__version__ = "0.1.0"

from . import modeling  # noqa: E402,F401  (registers the backbones)
