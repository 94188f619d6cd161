"""FLOPs of a backbone or a whole detector, one counting method for every model.

The count is detectron2's ``tools/analyze_model.py``'s: fvcore traces one inference
forward and counts one multiply-add as one "flop"; element-wise ops, softmax, batch norm,
max pooling and NMS are not counted (:data:`IGNORED_OPS`, detectron2's
``utils.analysis._IGNORED_OPS``).

Attention is counted as its two matmuls (``QK^T`` and ``PV``: ``2 * B * heads * N * N * d``)
on every path: fvcore sees the explicit matmuls of the plain path, and
:func:`sdpa_flop_handle` counts ``F.scaled_dot_product_attention``. Global attention that
would take the query-blocked CPU kernel (an autograd Function the tracer cannot follow)
goes through SDPA while counting (:func:`traceable_attention`); same numbers. The count is
therefore the same whichever path a config selects.

A detector takes ``list[dict]`` and returns ``Instances``, which the tracer cannot take:
:class:`DetectorForTracing` feeds it one image tensor and returns the detections' tensors.
detectron2's own ``FlopCountAnalysis`` does the same through ``TracingAdapter``, which
detectron2 0.6 cannot import without caffe2; this wrapper is used on every detectron2
version, so the counts and their per-module names are the same everywhere. Per-module
figures are keyed by the model's own module names (``backbone``, ``roi_heads.box_head``),
never by the wrapper's.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Dict, Optional

import torch
import torch.nn as nn

from vitdet_bench.layers.attention import chunked_attention_disabled

__all__ = ["IGNORED_OPS", "FlopCount", "DetectorForTracing", "sdpa_flop_handle",
           "traceable_attention", "count_flops", "count_backbone_flops", "count_detector_flops",
           "calibrate_batchnorm", "keep_all_detections", "restore_thresholds", "detector_flops"]

# What detectron2's analyze_model leaves uncounted (detectron2/utils/analysis.py, _IGNORED_OPS).
# Of these only batch_norm has an fvcore handle; the rest silence "unsupported op" warnings.
IGNORED_OPS = (
    "aten::add", "aten::add_", "aten::argmax", "aten::argsort", "aten::batch_norm",
    "aten::constant_pad_nd", "aten::div", "aten::div_", "aten::exp", "aten::log2",
    "aten::max_pool2d", "aten::meshgrid", "aten::mul", "aten::mul_", "aten::neg",
    "aten::nonzero_numpy", "aten::reciprocal", "aten::rsub",
    "aten::sigmoid", "aten::sigmoid_", "aten::softmax", "aten::sort", "aten::sqrt", "aten::sub",
    "torchvision::nms",
)


@dataclass
class FlopCount:
    """One count, in fvcore flops (multiply-adds). ``by_module`` is keyed by the measured
    model's own module names ("" is the whole model); ``by_child`` holds its direct children."""

    total: float
    by_module: Dict[str, float] = field(default_factory=dict)
    by_child: Dict[str, float] = field(default_factory=dict)
    by_operator: Dict[str, float] = field(default_factory=dict)


def sdpa_flop_handle(inputs, outputs):
    """fvcore handle of ``aten::scaled_dot_product_attention``: q, k, v of shape
    ``(..., N, d)``; QK^T and PV are ``B * N * Nk * d`` multiply-adds each."""
    from fvcore.nn.jit_handles import get_shape

    q, k = get_shape(inputs[0]), get_shape(inputs[1])
    batch = 1
    for s in q[:-2]:
        batch *= s
    return 2 * batch * q[-2] * k[-2] * q[-1]


def traceable_attention():
    """Context in which CPU global attention runs through SDPA (counted by
    :func:`sdpa_flop_handle`) instead of the query-blocked kernel. For counting only."""
    return chunked_attention_disabled()


@contextlib.contextmanager
def _traceable_poolers(model: nn.Module):
    # The one-gather CPU ROIAlign does not trace; detectron2's path computes the same
    # numbers (ROIAlign is uncounted either way). Restored even when the count fails.
    poolers = [m for m in model.modules() if getattr(m, "gather_on_cpu", False)]
    for m in poolers:
        m.gather_on_cpu = False
    try:
        yield
    finally:
        for m in poolers:
            m.gather_on_cpu = True


class DetectorForTracing(nn.Module):
    """A detector as the tracer can take it: one image tensor in, the tensors of its
    detections out (boxes, scores, classes, masks). ``height`` / ``width`` are the output
    resolution the detector postprocesses to (default: the image's)."""

    def __init__(self, detector: nn.Module, height: Optional[int] = None, width: Optional[int] = None):
        super().__init__()
        self.detector = detector
        self.height, self.width = height, width

    def forward(self, image):
        inputs = {"image": image}
        if self.height is not None:
            inputs.update(height=self.height, width=self.width)
        inst = self.detector([inputs])[0]["instances"]
        return tuple(inst.get(k).tensor if hasattr(inst.get(k), "tensor") else inst.get(k)
                     for k in ("pred_boxes", "scores", "pred_classes", "pred_masks") if inst.has(k))


def count_flops(root: nn.Module, model: nn.Module, inputs: tuple) -> FlopCount:
    """Count ``root(*inputs)``, where ``model`` is ``root`` or a module inside it (a tracing
    wrapper); per-module figures are named as in ``model``, whatever ``root`` calls it."""
    from fvcore.nn import FlopCountAnalysis

    fca = FlopCountAnalysis(root, inputs)
    fca.set_op_handle(**{k: None for k in IGNORED_OPS})
    fca.set_op_handle("aten::scaled_dot_product_attention", sdpa_flop_handle)
    fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    with torch.no_grad(), traceable_attention():
        total = fca.total()
        by_module_traced = fca.by_module()
        by_operator = dict(fca.by_operator())
    # the model's own names: strip whatever the model is called inside the traced root
    prefix = next(name for name, m in root.named_modules() if m is model)
    by_module = {}
    for name, value in by_module_traced.items():
        if name == prefix:
            by_module[""] = value
        elif not prefix or name.startswith(prefix + "."):
            by_module[name[len(prefix) + 1:] if prefix else name] = value
    by_child = {name: by_module.get(name, 0) for name, _ in model.named_children()}
    return FlopCount(total, by_module, by_child, by_operator)


def count_backbone_flops(model: nn.Module, x: torch.Tensor) -> FlopCount:
    """A module that takes an image batch ``x`` (e.g. ``model.backbone``), in eval mode."""
    model.eval()
    return count_flops(model, model, (x,))


def count_detector_flops(model: nn.Module, image: torch.Tensor, height: Optional[int] = None,
                         width: Optional[int] = None) -> FlopCount:
    """A detectron2 detector's inference on one ``(3, H, W)`` image, in eval mode, with the
    model's current score thresholds (see :func:`keep_all_detections`)."""
    model.eval()
    with _traceable_poolers(model):
        return count_flops(DetectorForTracing(model, height, width), model, (image,))


def calibrate_batchnorm(model: nn.Module, image: torch.Tensor) -> None:
    """Running statistics of every BatchNorm from one inference forward on ``image``.

    A random-weight model's BatchNorm in eval mode normalizes with mean 0 / variance 1:
    a from-scratch ResNet-101's features reach ~1e5, every RPN box degenerates and the
    ROI heads see no proposal (their FLOPs would count as 0). With the statistics of the
    image itself the detector runs its full inference path, as a trained one does.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.training) for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: exactly this forward's statistics
        m.train()
    with torch.no_grad():
        model([{"image": image}])
    for m, (momentum, training) in zip(norms, saved):
        m.momentum = momentum
        m.train(training)


def keep_all_detections(model: nn.Module):
    """Score threshold 0 in every box predictor: the mask head and the postprocessing run on
    the full ``test_topk_per_image`` (100) detections, as for a trained model on COCO. A
    random-weight model would otherwise keep anywhere from none to 100. Returns the
    previous thresholds (for :func:`restore_thresholds`)."""
    predictors = [m for m in model.modules() if hasattr(m, "test_score_thresh")]
    saved = [(m, m.test_score_thresh) for m in predictors]
    for m in predictors:
        m.test_score_thresh = 0.0
    return saved


def restore_thresholds(saved) -> None:
    for m, t in saved:
        m.test_score_thresh = t


def detector_flops(model: nn.Module, size: int, device: str, calibrate: bool = True):
    """Whole-detector inference GFLOPs for one random ``size`` x ``size`` image, every model
    keeping 100 detections (BatchNorm statistics taken from the image first unless
    ``calibrate=False``: the caller has done it). Returns ``(total, {child: GFLOPs})``; the
    model's thresholds are restored."""
    model.eval()
    image = torch.rand(3, size, size, device=device) * 255
    if calibrate:
        calibrate_batchnorm(model, image)
    thresholds = keep_all_detections(model)
    try:
        count = count_detector_flops(model, image)
    finally:
        restore_thresholds(thresholds)
    return count.total / 1e9, {k: v / 1e9 for k, v in count.by_child.items()}
