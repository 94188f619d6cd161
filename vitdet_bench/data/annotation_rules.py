"""Which annotations cannot be used: one rule shared by validation, training and evaluation.

An annotation is looked at in a fixed order, and the first check that fails decides:

1. **crowd** -- a crowd region (``iscrowd`` true) is kept as it is. detectron2's
   ``DatasetMapper`` leaves crowd regions out of the training targets, and COCO
   evaluation only uses them to ignore detections, so nothing below applies.
2. **box** -- an empty, negative, non-finite or malformed box drops the annotation
   (``INVALID_BOX``). A negative-width XYWH box would otherwise become a valid box
   once detectron2 takes the min/max of its corners.
3. **segmentation** -- when masks are used, an annotation without a segmentation is
   dropped (``MISSING_SEGMENTATION``): detectron2 cannot batch masked and mask-less
   instances together, and pycocotools fails on it when evaluating masks.
4. **polygons** -- when masks are used, each polygon with fewer than 3 points, an odd
   number of coordinates, non-finite values or zero area is removed
   (``DEGENERATE_POLYGON``); the annotation is dropped when none is left. detectron2's
   loader drops polygons with < 3 points for the same reason, and pycocotools takes a
   2-point polygon for a box.

:func:`annotation_verdict` is that rule as a pure function of one annotation dict.
Its users only word and count the verdict: :func:`vitdet_bench.data.validate_coco_json`
(the pre-flight report), :class:`vitdet_bench.data.RobustDatasetMapper` (counted skips
in training) and :func:`vitdet_bench.data.validate.evaluable_ground_truth` (the
ground truth an evaluation can use).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Sequence, Tuple

__all__ = [
    "INVALID_BOX", "MISSING_SEGMENTATION", "DEGENERATE_POLYGON",
    "AnnotationVerdict", "annotation_verdict",
    "box_problem", "polygon_problem", "split_polygons",
]

# The problem kinds of the rule (also the keys of skip and drop counts).
INVALID_BOX = "invalid_box"
MISSING_SEGMENTATION = "missing_segmentation"
DEGENERATE_POLYGON = "degenerate_polygon"

BOX_LAYOUTS = ("xywh", "xyxy")


def _finite_numbers(values: Iterable[Any]) -> bool:
    try:
        return all(math.isfinite(float(v)) for v in values)
    except (TypeError, ValueError):
        return False


def box_problem(bbox: Any, xywh: bool = True) -> Optional[str]:
    """Why ``bbox`` cannot be used (None if it can). ``xywh``: COCO layout, else XYXY."""
    if bbox is None:
        return "has no bbox"
    try:
        values = [float(v) for v in bbox]
    except (TypeError, ValueError):
        return f"has a bbox that is not a list of numbers ({bbox!r})"
    if len(values) != 4:
        return f"has a bbox with {len(values)} values instead of 4 ({bbox!r})"
    if not _finite_numbers(values):
        return f"has a non-finite bbox {values}"
    w, h = (values[2], values[3]) if xywh else (values[2] - values[0], values[3] - values[1])
    if w <= 0 or h <= 0:
        kind = "negative" if (w < 0 or h < 0) else "empty"
        layout = "[x, y, w, h]" if xywh else "[x0, y0, x1, y1]"
        article = "a" if kind == "negative" else "an"
        return f"has {article} {kind} bbox {layout}={values} (width {w:g}, height {h:g})"
    return None


def _shoelace_area(xy: Sequence[float]) -> float:
    xs, ys = xy[0::2], xy[1::2]
    n = len(xs)
    return 0.5 * abs(sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n)))


def polygon_problem(polygon: Any) -> Optional[str]:
    """Why one flat COCO polygon [x0, y0, x1, y1, ...] is unusable (None if usable)."""
    try:
        values = [float(v) for v in polygon]
    except (TypeError, ValueError):
        return "is not a flat list of numbers"
    if len(values) % 2 == 1:
        return f"has an odd number of coordinates ({len(values)})"
    if len(values) < 6:
        return f"has {len(values) // 2} point(s); a polygon needs at least 3"
    if not _finite_numbers(values):
        return "has non-finite coordinates"
    if _shoelace_area(values) < 1e-6:
        return "has zero area (all points on one line)"
    return None


def split_polygons(segmentation: List[Any]) -> Tuple[List[Any], List[str]]:
    """(usable polygons, reasons for each unusable one) of a polygon segmentation."""
    good, reasons = [], []
    for i, poly in enumerate(segmentation):
        why = polygon_problem(poly)
        if why is None:
            good.append(poly)
        else:
            reasons.append(f"polygon {i} {why}")
    return good, reasons


@dataclass(frozen=True)
class AnnotationVerdict:
    """What the rule decides for one annotation.

    ``kind`` is None when the annotation is usable as it is; otherwise the problem kind.
    ``keep`` is False when the whole annotation is dropped. A kept annotation with a
    kind (only ``DEGENERATE_POLYGON``) loses its unusable polygons: ``polygons`` holds
    the ones left. ``reasons`` says why, one entry per box or polygon problem, in the
    wording of :func:`box_problem` / :func:`split_polygons`.
    """

    kind: Optional[str] = None
    keep: bool = True
    reasons: Tuple[str, ...] = ()
    polygons: Optional[List[Any]] = None

    def apply(self, ann: dict) -> Optional[dict]:
        """The annotation as training or evaluation uses it: None when dropped, a copy
        with only the usable polygons when some were removed, else ``ann`` itself."""
        if not self.keep:
            return None
        if self.polygons is not None:
            return dict(ann, segmentation=self.polygons)
        return ann


_USABLE = AnnotationVerdict()


def annotation_verdict(ann: dict, *, masks: bool, box_layout: Optional[str] = "xywh"
                       ) -> AnnotationVerdict:
    """Apply the rule (crowd -> box -> segmentation -> polygons) to one annotation.

    Args:
        ann: a COCO annotation or a detectron2 dataset-dict annotation.
        masks: whether masks are used; without masks only the box is checked.
        box_layout: ``"xywh"`` (COCO json, ``BoxMode.XYWH_ABS``), ``"xyxy"``
            (``BoxMode.XYXY_ABS``), or None when the box is in a layout the rule does
            not know (relative modes) and is not checked.
    """
    if box_layout is not None and box_layout not in BOX_LAYOUTS:
        raise ValueError(f"box_layout must be one of {BOX_LAYOUTS} or None, got {box_layout!r}")
    if ann.get("iscrowd", 0):
        return _USABLE
    if box_layout is not None:
        why = box_problem(ann.get("bbox"), xywh=box_layout == "xywh")
        if why is not None:
            return AnnotationVerdict(INVALID_BOX, keep=False, reasons=(why,))
    if not masks:
        return _USABLE
    segmentation = ann.get("segmentation")
    if not segmentation:  # None, [], {} or "": nothing to make a mask from
        return AnnotationVerdict(MISSING_SEGMENTATION, keep=False)
    if isinstance(segmentation, list):
        good, reasons = split_polygons(segmentation)
        if reasons:
            if not good:
                return AnnotationVerdict(DEGENERATE_POLYGON, keep=False, reasons=tuple(reasons))
            return AnnotationVerdict(DEGENERATE_POLYGON, keep=True, reasons=tuple(reasons),
                                     polygons=good)
    return _USABLE
