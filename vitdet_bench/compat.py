"""Runtime bridges that let detectron2 0.6 without its C++ extension run here.

The only registry copy of detectron2 is the ``pb1-detectron2==0.6`` sdist, whose
C++ sources are missing, so ``tools/install_env.sh`` installs it without
``detectron2._C``. Three things then break at import time or at run time; this
module mends each of them *only when it is actually broken*, so on a complete
detectron2 (upstream main built with its extension) it changes nothing:

1. ``detectron2._C`` is absent. ``layers/deform_conv.py`` and friends import it
   at module level. We register a stand-in module that answers the environment
   queries of ``collect_env`` and raises :class:`MissingCppOpsError`, naming the
   op, for anything else (rotated boxes, deformable convolution, the C++
   COCOeval). vitdet_bench itself needs none of them.
2. Pillow >= 10 removed ``Image.LINEAR`` (an alias of ``BILINEAR``), which
   ``detectron2/data/transforms/transform.py`` uses as a default argument.
3. setuptools >= 81 removed ``pkg_resources``; ``detectron2/model_zoo`` imports
   it for ``resource_filename``.

This module must be imported before detectron2; ``import vitdet_bench`` does it.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types

__all__ = ["MissingCppOpsError", "HAS_CPP_OPS", "apply"]

# What needs the extension, for the error message.
_OPS_NEEDING_C = {
    "box_iou_rotated": "rotated boxes (RotatedBoxes IoU)",
    "nms_rotated": "rotated boxes (NMS)",
    "roi_align_rotated_forward": "rotated boxes (ROIAlignRotated)",
    "roi_align_rotated_backward": "rotated boxes (ROIAlignRotated)",
    "deform_conv_forward": "deformable convolution",
    "deform_conv_backward_input": "deformable convolution",
    "deform_conv_backward_filter": "deformable convolution",
    "modulated_deform_conv_forward": "modulated deformable convolution",
    "modulated_deform_conv_backward": "modulated deformable convolution",
    "COCOevalAccumulate": "the C++ COCOeval (COCOEvaluator(use_fast_impl=True))",
    "COCOevalEvaluateImages": "the C++ COCOeval (COCOEvaluator(use_fast_impl=True))",
    "InstanceAnnotation": "the C++ COCOeval (COCOEvaluator(use_fast_impl=True))",
}


class MissingCppOpsError(RuntimeError):
    """Raised when code asks for an op that lives in detectron2's C++ extension."""


def _missing(name: str) -> MissingCppOpsError:
    what = _OPS_NEEDING_C.get(name, "a C++/CUDA op")
    return MissingCppOpsError(
        f"detectron2._C.{name} is not available: this detectron2 was installed without its "
        f"C++ extension (the pb1-detectron2==0.6 sdist ships no C++ sources), so {what} cannot "
        "run. vitdet_bench's models and evaluation do not need it (use "
        "COCOEvaluator(use_fast_impl=False)); for rotated boxes or deformable convolution "
        "install upstream detectron2 built from source."
    )


class _CppOpsStandIn(types.ModuleType):
    """Stand-in for ``detectron2._C``: environment queries answer, ops raise."""

    def __init__(self):
        super().__init__("detectron2._C")
        self.__file__ = "<vitdet_bench.compat: detectron2 installed without C++ extension>"
        self.__spec__ = importlib.machinery.ModuleSpec("detectron2._C", loader=None)

    @staticmethod
    def get_compiler_version() -> str:
        return "not built (installed without C++ extension)"

    @staticmethod
    def get_cuda_version() -> str:
        return "not built"

    @staticmethod
    def has_cuda() -> bool:
        return False

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise _missing(name)


def _has_real_extension() -> bool:
    try:
        spec = importlib.util.find_spec("detectron2._C")
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin not in (None, "built-in")


def _patch_pillow() -> None:
    from PIL import Image

    if not hasattr(Image, "LINEAR"):
        Image.LINEAR = Image.BILINEAR  # the alias Pillow 10 removed


def _patch_pkg_resources() -> None:
    try:
        import pkg_resources  # noqa: F401
        return
    except ImportError:
        pass
    import importlib.resources

    shim = types.ModuleType("pkg_resources")
    shim.__doc__ = "vitdet_bench.compat shim: the resource_filename detectron2 uses."

    def resource_filename(package: str, resource: str) -> str:
        return str(importlib.resources.files(package).joinpath(resource))

    shim.resource_filename = resource_filename
    sys.modules["pkg_resources"] = shim


def _patch_missing_extension() -> bool:
    if "detectron2._C" in sys.modules or _has_real_extension():
        return _has_real_extension()
    sys.modules["detectron2._C"] = _CppOpsStandIn()
    # torch.ops.detectron2.nms_rotated is the other entry point into the extension.
    return False


def _patch_rotated_nms() -> None:
    import torch

    try:
        torch.ops.detectron2.nms_rotated  # noqa: B018
    except (AttributeError, RuntimeError):
        import detectron2.layers.nms as d2_nms

        def nms_rotated(boxes, scores, iou_threshold):
            raise _missing("nms_rotated")

        d2_nms.nms_rotated = nms_rotated
        if hasattr(d2_nms, "batched_nms_rotated"):
            d2_nms.batched_nms_rotated.__globals__["nms_rotated"] = nms_rotated


def apply() -> bool:
    """Apply the bridges that are needed; returns whether the real extension exists."""
    _patch_pillow()
    _patch_pkg_resources()
    if importlib.util.find_spec("detectron2") is None:
        return False
    has_ext = _patch_missing_extension()
    if not has_ext:
        _patch_rotated_nms()
    return has_ext


HAS_CPP_OPS = apply()
