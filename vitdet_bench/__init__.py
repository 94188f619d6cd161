"""vitdet_bench: how well does ViT pre-training transfer to COCO detection?

Importing the package first makes detectron2 usable on installs without its C++
extension (see :mod:`vitdet_bench.compat`), then registers the backbones.
"""
import warnings as _warnings

__version__ = "0.1.0"

# fvcore.nn and detectron2.modeling decorate functions with torch.jit.script at import;
# recent torch answers each with a deprecation FutureWarning, printed by every process
# of every run. Not ours to fix and nothing for the user to act on: the imports below
# (which pull in detectron2) run with that one warning off. vitdet_bench itself does not
# use torch.jit.script.
with _warnings.catch_warnings():
    _warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is", category=FutureWarning)
    from . import compat as _compat  # noqa: F401  (must run before detectron2 is imported)
    from . import modeling  # noqa: F401  (registers the backbones)
