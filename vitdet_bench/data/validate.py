"""Bad-data detection: one place that knows what a broken COCO dataset looks like.

Three users share the checks and the wording of the messages here:

* :func:`validate_coco_json` -- a pre-flight report over a whole json (+ image
  files), run before training so problems surface in seconds, all at once;
* :class:`vitdet_bench.data.mapper.RobustDatasetMapper` -- the per-image guard
  inside the data loader (clear error or counted skip, never a crash deep in
  detectron2 or in collate);
* :func:`vitdet_bench.data.datasets.load_coco_json_checked` -- turns detectron2's
  terse load-time failures (bare ``KeyError: 99``) into a report.

Which problems are fatal and which are skipped is documented in docs/data.md;
the rule is: a problem that means the labels are *wrong* (unknown category,
a size that disagrees with the file, a missing file) stops the run with a
message; a single unusable annotation (empty box, degenerate polygon) is
dropped and counted, as detectron2 itself does for polygons with < 3 points
and for boxes that become empty after cropping. Which annotations are dropped is
one rule, :mod:`vitdet_bench.data.annotation_rules`, that the report, the mapper
and :func:`evaluable_ground_truth` share.
"""
from __future__ import annotations

import collections
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from detectron2.data.detection_utils import SizeMismatchError

# The drop rule and its problem kinds live in annotation_rules; they are re-exported
# here because the report, the mapper and the evaluation all speak of them.
from .annotation_rules import (
    DEGENERATE_POLYGON,
    INVALID_BOX,
    MISSING_SEGMENTATION,
    annotation_verdict,
    box_problem,
    polygon_problem,
    split_polygons,
)

__all__ = [
    "DataError", "ImageFileError", "ImageSizeMismatchError", "AnnotationError",
    "DatasetValidationError",
    "ERROR", "WARNING", "INFO", "PROBLEM_SEVERITY",
    "MISSING_IMAGE", "UNREADABLE_IMAGE", "SIZE_MISMATCH", "INVALID_BOX",
    "DEGENERATE_POLYGON", "INVALID_SEGMENTATION", "MISSING_SEGMENTATION", "UNKNOWN_CATEGORY",
    "ANNOTATION_WITHOUT_IMAGE", "DUPLICATE_ID", "MISSING_FIELD", "IMAGE_WITHOUT_ANNOTATIONS",
    "Problem", "ValidationReport", "validate_coco_json",
    "box_problem", "polygon_problem", "split_polygons", "read_image_size",
    "missing_image_message", "unreadable_image_message", "size_mismatch_message",
    "drop_images_with_bad_files", "evaluable_ground_truth",
]

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- errors
# Every error takes a single message argument: torch's DataLoader re-raises a
# worker's exception as ``type(exc)(message)``, so this keeps the type (and our
# message) intact across the worker boundary.

class DataError(Exception):
    """Base class of vitdet_bench's data errors."""


class ImageFileError(DataError):
    """An image file listed in the dataset is missing or cannot be decoded."""


class ImageSizeMismatchError(DataError, SizeMismatchError):
    """The width/height recorded in the annotations differ from the image file.

    Subclasses detectron2's ``SizeMismatchError`` so code that catches detectron2's
    error keeps working.
    """


class AnnotationError(DataError):
    """An annotation is wrong in a way that must not be skipped silently."""


class DatasetValidationError(DataError):
    """A dataset has fatal problems; ``.report`` holds the full ValidationReport when known."""

    def __init__(self, message: str, report: "Optional[ValidationReport]" = None):
        super().__init__(message)
        self.report = report


# ----------------------------------------------------------------------------- problem kinds

ERROR, WARNING, INFO = "error", "warning", "info"

MISSING_IMAGE = "missing_image_file"
UNREADABLE_IMAGE = "unreadable_image"
SIZE_MISMATCH = "image_size_mismatch"
# (INVALID_BOX, MISSING_SEGMENTATION and DEGENERATE_POLYGON come with the drop rule)
INVALID_SEGMENTATION = "invalid_segmentation"
UNKNOWN_CATEGORY = "unknown_category"
ANNOTATION_WITHOUT_IMAGE = "annotation_without_image"
DUPLICATE_ID = "duplicate_id"
MISSING_FIELD = "missing_field"
IMAGE_WITHOUT_ANNOTATIONS = "image_without_annotations"

# error: training stops (or would train on wrong labels); warning: the item is
# dropped, counted and logged during training; info: normal, reported for context.
PROBLEM_SEVERITY: Dict[str, str] = {
    MISSING_IMAGE: ERROR,
    UNREADABLE_IMAGE: ERROR,
    SIZE_MISMATCH: ERROR,
    UNKNOWN_CATEGORY: ERROR,
    DUPLICATE_ID: ERROR,
    MISSING_FIELD: ERROR,
    INVALID_SEGMENTATION: ERROR,
    INVALID_BOX: WARNING,
    DEGENERATE_POLYGON: WARNING,
    MISSING_SEGMENTATION: WARNING,
    ANNOTATION_WITHOUT_IMAGE: WARNING,
    IMAGE_WITHOUT_ANNOTATIONS: INFO,
}


# ----------------------------------------------------------------------------- shared checks

def read_image_size(path: str, decode: bool = False) -> Tuple[int, int]:
    """(width, height) of an image file as detectron2 will see it (EXIF rotation applied).

    Reads only the header unless ``decode``; raises OSError/PIL errors if unreadable.
    """
    from PIL import Image

    with Image.open(path) as im:
        width, height = im.size
        try:
            orientation = im.getexif().get(0x0112, 1)
        except Exception:  # a broken EXIF block: detectron2 ignores it as well
            orientation = 1
        if decode:
            im.load()
    # detectron2.data.detection_utils.read_image transposes by the EXIF orientation;
    # orientations 5-8 swap width and height.
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return width, height


# ----------------------------------------------------------------------------- messages

def missing_image_message(file_name: str, image_id: Any, image_root: Optional[str] = None) -> str:
    root = image_root or os.path.dirname(file_name)
    return (
        f"Image file missing: {file_name!r} (image id {image_id}) does not exist. The dataset "
        f"lists this image but there is no file at that path; check that the image root "
        f"{root!r} is the folder that holds the images (for coco128: "
        "$DETECTRON2_DATASETS/coco128/train2017) and that the download or copy is complete. "
        "Run vitdet_bench.data.validate_coco_json(json_file, image_root) to list every missing "
        "file at once, or drop such images with vitdet_bench.data.drop_images_with_bad_files()."
    )


def unreadable_image_message(file_name: str, image_id: Any, cause: BaseException) -> str:
    return (
        f"Unreadable image: {file_name!r} (image id {image_id}) exists but cannot be decoded "
        f"({type(cause).__name__}: {cause}). The file is truncated, corrupt or not an image; "
        "re-download or re-export it, or drop it with "
        "vitdet_bench.data.drop_images_with_bad_files(). "
        "validate_coco_json(..., decode_images=True) finds every such file before training."
    )


def size_mismatch_message(file_name: str, image_id: Any, recorded_wh, actual_wh) -> str:
    return (
        f"Image size mismatch: {file_name!r} (image id {image_id}) is recorded as "
        f"{recorded_wh[0]}x{recorded_wh[1]} (width x height) in the annotations but the file is "
        f"{actual_wh[0]}x{actual_wh[1]} (after EXIF rotation). Boxes and masks are in the "
        "recorded coordinates, so training on this image would teach wrong locations; fix the "
        "width/height in the json or restore the original image file."
    )


def _describe_annotation(ann_id: Any, image_id: Any) -> str:
    return f"annotation id {ann_id} (image id {image_id})"


# ----------------------------------------------------------------------------- report

@dataclass
class Problem:
    kind: str
    message: str
    image_id: Any = None
    annotation_id: Any = None
    file_name: Optional[str] = None

    @property
    def severity(self) -> str:
        return PROBLEM_SEVERITY[self.kind]


@dataclass
class ValidationReport:
    """Counts per problem kind plus up to ``max_examples`` examples of each."""

    json_file: str
    image_root: str
    num_images: int = 0
    num_annotations: int = 0
    counts: Dict[str, int] = field(default_factory=lambda: collections.Counter())
    examples: Dict[str, List[Problem]] = field(default_factory=dict)
    max_examples: int = 5

    def add(self, problem: Problem) -> None:
        self.counts[problem.kind] += 1
        bucket = self.examples.setdefault(problem.kind, [])
        if len(bucket) < self.max_examples:
            bucket.append(problem)

    def count(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    def kinds(self, severity: str) -> Dict[str, int]:
        return {k: n for k, n in sorted(self.counts.items()) if PROBLEM_SEVERITY[k] == severity}

    @property
    def errors(self) -> Dict[str, int]:
        return self.kinds(ERROR)

    @property
    def warnings(self) -> Dict[str, int]:
        return self.kinds(WARNING)

    @property
    def ok(self) -> bool:
        """No fatal problem (warnings are things the loader drops and counts)."""
        return not self.errors

    def summary(self, severities: Sequence[str] = (ERROR, WARNING, INFO)) -> str:
        lines = [f"{self.json_file} (images under {self.image_root}): {self.num_images} images, "
                 f"{self.num_annotations} annotations."]
        if not any(self.kinds(s) for s in severities):
            lines.append("No problems found.")
        for severity in severities:
            for kind, n in self.kinds(severity).items():
                lines.append(f"[{severity}] {kind}: {n}")
                for p in self.examples.get(kind, []):
                    lines.append(f"    - {p.message}")
        return "\n".join(lines)

    def error_message(self) -> str:
        kinds = ", ".join(f"{k} x{n}" for k, n in self.errors.items())
        return (f"Dataset {self.json_file!r} has problems that would stop or corrupt training "
                f"({kinds}). Details:\n" + self.summary(severities=(ERROR,)))

    def raise_if_errors(self) -> None:
        if not self.ok:
            raise DatasetValidationError(self.error_message(), report=self)

    def to_dict(self) -> dict:
        return {
            "json_file": self.json_file, "image_root": self.image_root,
            "num_images": self.num_images, "num_annotations": self.num_annotations,
            "ok": self.ok, "counts": dict(sorted(self.counts.items())),
            "examples": {k: [p.__dict__ for p in v] for k, v in self.examples.items()},
        }


# ----------------------------------------------------------------------------- validator

def _load_json(json_path: str) -> dict:
    try:
        with open(json_path, "r", encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise DatasetValidationError(
            f"Annotation file not found: {json_path!r}. Check the path (for registered datasets "
            "it comes from the dataset's metadata json_file) and that the dataset root "
            "environment variable DETECTRON2_DATASETS points where the data lives.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetValidationError(
            f"Annotation file {json_path!r} cannot be parsed as JSON ({type(e).__name__}: {e}); "
            "it is truncated or not a COCO annotation file.") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list) \
            or not isinstance(data.get("categories"), list):
        raise DatasetValidationError(
            f"Annotation file {json_path!r} is not in COCO instances format: it needs top-level "
            "lists 'images', 'annotations' and 'categories'.")
    return data


def _check_image_file(report: ValidationReport, img: dict, image_root: str, decode: bool) -> None:
    file_name = os.path.join(image_root, str(img["file_name"]))
    image_id = img.get("id")
    if not os.path.isfile(file_name):
        report.add(Problem(MISSING_IMAGE, missing_image_message(file_name, image_id, image_root),
                           image_id=image_id, file_name=file_name))
        return
    try:
        actual = read_image_size(file_name, decode=decode)
    except Exception as e:  # PIL raises a zoo of types for corrupt files
        report.add(Problem(UNREADABLE_IMAGE, unreadable_image_message(file_name, image_id, e),
                           image_id=image_id, file_name=file_name))
        return
    recorded = (img.get("width"), img.get("height"))
    if recorded != actual:
        report.add(Problem(SIZE_MISMATCH,
                           size_mismatch_message(file_name, image_id, recorded, actual),
                           image_id=image_id, file_name=file_name))


def _check_annotation(report: ValidationReport, ann: dict, image: Optional[dict],
                      category_ids: set, json_path: str) -> None:
    ann_id, image_id = ann.get("id"), ann.get("image_id")
    where = _describe_annotation(ann_id, image_id)
    if image is None:
        report.add(Problem(
            ANNOTATION_WITHOUT_IMAGE,
            f"{where} refers to an image id that is not in 'images'; detectron2 ignores such "
            "annotations (with a warning), so this object is not trained on.",
            image_id=image_id, annotation_id=ann_id))
        return
    missing = [k for k in ("id", "image_id", "category_id", "bbox") if k not in ann]
    if missing:
        report.add(Problem(MISSING_FIELD, f"{where} has no {', '.join(missing)} field(s); "
                           "every COCO annotation needs id, image_id, category_id and bbox.",
                           image_id=image_id, annotation_id=ann_id))
        return
    file_name = image.get("file_name")
    category_id = ann["category_id"]
    if not isinstance(category_id, int) or category_id not in category_ids:
        report.add(Problem(
            UNKNOWN_CATEGORY,
            f"Unknown category: {where}, file {file_name!r}, has category_id "
            f"{ann['category_id']!r}, which is not among the {len(category_ids)} categories "
            f"declared in {json_path!r} (ids {_id_ranges(category_ids)}). Training cannot map it "
            "to a class; fix the id or add the category.",
            image_id=image_id, annotation_id=ann_id, file_name=file_name))
    # What training does with the annotation (masks trained: the strictest case), one
    # problem per dropped annotation, as the mapper counts it; crowd regions are kept.
    verdict = annotation_verdict(ann, masks=True)
    if verdict.kind == INVALID_BOX:
        report.add(Problem(
            INVALID_BOX,
            f"Invalid box: {where}, file {file_name!r}, {verdict.reasons[0]}. The training "
            "mapper drops this annotation and counts it.",
            image_id=image_id, annotation_id=ann_id, file_name=file_name))
    elif verdict.kind == MISSING_SEGMENTATION:
        # Fine for box-only training, but detectron2 cannot batch masked and
        # mask-less instances together (KeyError in annotations_to_instances).
        report.add(Problem(
            MISSING_SEGMENTATION,
            f"Missing mask: {where}, file {file_name!r}, has no segmentation. A mask-training "
            "mapper drops this annotation and counts it; box-only training keeps it.",
            image_id=image_id, annotation_id=ann_id, file_name=file_name))
        return
    # A malformed segmentation is wrong labels, not a droppable annotation: an error
    # whatever the rule decided above.
    seg = ann.get("segmentation")
    if not seg:
        return
    if isinstance(seg, dict):
        if not (isinstance(seg.get("size"), list) and len(seg["size"]) == 2 and "counts" in seg):
            report.add(Problem(
                INVALID_SEGMENTATION,
                f"Invalid RLE: {where}, file {file_name!r}, has an RLE segmentation without a "
                "[height, width] 'size' and 'counts'.",
                image_id=image_id, annotation_id=ann_id, file_name=file_name))
        return
    if not isinstance(seg, list):
        report.add(Problem(
            INVALID_SEGMENTATION,
            f"Invalid segmentation: {where}, file {file_name!r}, has a segmentation of type "
            f"{type(seg).__name__}; COCO allows a list of polygons or an RLE dict.",
            image_id=image_id, annotation_id=ann_id, file_name=file_name))
        return
    if verdict.kind == DEGENERATE_POLYGON:
        fate = ("the whole annotation is dropped (no usable polygon is left)" if not verdict.keep
                else f"those polygon(s) are dropped, {len(verdict.polygons)} usable one(s) kept")
        report.add(Problem(
            DEGENERATE_POLYGON,
            f"Degenerate polygon: {where}, file {file_name!r}: {'; '.join(verdict.reasons)}. "
            f"In training {fate}, and counted.",
            image_id=image_id, annotation_id=ann_id, file_name=file_name))


def _id_ranges(ids: Iterable[Any]) -> str:
    ints = sorted(i for i in ids if isinstance(i, int))
    if not ints:
        return "none"
    runs, start, prev = [], ints[0], ints[0]
    for i in ints[1:]:
        if i != prev + 1:
            runs.append((start, prev))
            start = i
        prev = i
    runs.append((start, prev))
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def validate_coco_json(json_path: str, image_root: str, check_image_files: bool = True, *,
                       decode_images: bool = False, max_examples: int = 5) -> ValidationReport:
    """Check a COCO instances json (and its image files) before training.

    Args:
        json_path: COCO instances annotation file.
        image_root: folder that ``images[].file_name`` is relative to.
        check_image_files: check each image exists, is an image, and has the recorded size
            (header only: cheap even for all of COCO).
        decode_images: also decode every image fully, which finds truncated files at the
            cost of a full decode (~5 ms per COCO image).
        max_examples: examples kept per problem kind.

    Returns:
        ValidationReport (``.ok``, ``.counts``, ``.examples``, ``.summary()``,
        ``.raise_if_errors()``).

    Raises:
        DatasetValidationError: the json itself is missing or not COCO-shaped.
    """
    data = _load_json(json_path)
    report = ValidationReport(json_file=json_path, image_root=image_root,
                              num_images=len(data["images"]),
                              num_annotations=len(data["annotations"]),
                              max_examples=max_examples)
    category_ids = {c.get("id") for c in data["categories"] if isinstance(c, dict)}

    images_by_id: Dict[Any, dict] = {}
    for img in data["images"]:
        image_id = img.get("id") if isinstance(img, dict) else None
        missing = [k for k in ("id", "file_name", "width", "height")
                   if not isinstance(img, dict) or k not in img]
        if missing:
            report.add(Problem(MISSING_FIELD,
                               f"Image entry {img!r:.120} has no {', '.join(missing)} field(s).",
                               image_id=image_id))
            continue
        if image_id in images_by_id:
            report.add(Problem(DUPLICATE_ID,
                               f"Duplicate image id {image_id} in {json_path!r} "
                               f"({images_by_id[image_id]['file_name']!r} and "
                               f"{img['file_name']!r}); image ids must be unique.",
                               image_id=image_id))
            continue
        images_by_id[image_id] = img
        if check_image_files:
            _check_image_file(report, img, image_root, decode_images)

    seen_ann_ids = set()
    annotated_images = set()
    for ann in data["annotations"]:
        if not isinstance(ann, dict):
            report.add(Problem(MISSING_FIELD, f"Annotation entry {ann!r:.120} is not an object."))
            continue
        ann_id = ann.get("id")
        if ann_id is not None and ann_id in seen_ann_ids:
            report.add(Problem(DUPLICATE_ID,
                               f"Duplicate annotation id {ann_id} in {json_path!r}; detectron2's "
                               "loader asserts that annotation ids are unique.",
                               image_id=ann.get("image_id"), annotation_id=ann_id))
            continue
        seen_ann_ids.add(ann_id)
        image = images_by_id.get(ann.get("image_id"))
        annotated_images.add(ann.get("image_id"))
        _check_annotation(report, ann, image, category_ids, json_path)

    for image_id, img in images_by_id.items():
        if image_id not in annotated_images:
            report.add(Problem(
                IMAGE_WITHOUT_ANNOTATIONS,
                f"Image id {image_id} ({img['file_name']!r}) has no annotations; detectron2 "
                "drops such images from training when filter_empty=True (its default) and "
                "keeps them for evaluation.",
                image_id=image_id, file_name=img["file_name"]))
    return report


# ----------------------------------------------------------------------------- dataset-level skip

def drop_images_with_bad_files(dataset_dicts: List[dict], decode: bool = False) -> List[dict]:
    """Opt-in counted skip of images whose file is missing, unreadable or mis-sized.

    The training mapper *raises* on such images (a silently shrinking dataset hides
    real breakage), and detectron2 0.6's own retry path for a mapper that returns
    None is broken on Python >= 3.11 (``random.sample`` on a set), so skipping must
    happen here, before the loader is built. Logs one warning with the counts and
    the first few file names.
    """
    kept, dropped = [], collections.OrderedDict()
    for d in dataset_dicts:
        file_name, image_id = d["file_name"], d.get("image_id")
        reason = None
        if not os.path.isfile(file_name):
            reason = MISSING_IMAGE
        else:
            try:
                actual = read_image_size(file_name, decode=decode)
            except Exception:
                reason = UNREADABLE_IMAGE
            else:
                if "width" in d and "height" in d and (d["width"], d["height"]) != actual:
                    reason = SIZE_MISMATCH
        if reason is None:
            kept.append(d)
        else:
            dropped.setdefault(reason, []).append(f"{file_name} (image id {image_id})")
    if dropped:
        details = "; ".join(f"{kind}: {len(v)} (e.g. {', '.join(v[:3])})"
                            for kind, v in dropped.items())
        logger.warning("Dropped %d of %d images whose files cannot be used: %s",
                       len(dataset_dicts) - len(kept), len(dataset_dicts), details)
    return kept


# ------------------------------------------------------------------- evaluation ground truth

def evaluable_ground_truth(json_file: str, out_file: str, masks: bool = True
                           ) -> Tuple[str, Dict[str, int]]:
    """The ground truth an evaluation can use: ``(json path, counts of what was dropped)``.

    pycocotools crashes deep inside on a polygon with fewer than 3 points (a 2-point
    polygon is even taken for a box) and on a non-crowd annotation without a
    segmentation when masks are evaluated. The same annotations the training mapper
    drops are dropped here, counted and logged, by the same rule
    (:func:`vitdet_bench.data.annotation_rules.annotation_verdict`): non-crowd ones with
    an empty, negative or non-finite box, and -- with ``masks`` -- missing
    segmentations and unusable polygons (the whole annotation when none is left). When nothing needs
    dropping this returns ``json_file`` itself and writes nothing; otherwise the
    cleaned copy goes to ``out_file`` (atomically) and metrics are over the objects
    that remain.
    """
    from vitdet_bench.utils.io import atomic_write_json

    data = _load_json(json_file)
    counts: Dict[str, int] = collections.Counter()
    examples: List[str] = []
    kept = []
    for ann in data["annotations"]:
        if not isinstance(ann, dict):
            kept.append(ann)
            continue
        verdict = annotation_verdict(ann, masks=masks)
        if verdict.kind is not None:
            counts[verdict.kind] += 1
            if len(examples) < 5:
                where = _describe_annotation(ann.get("id"), ann.get("image_id"))
                detail = ("; ".join(verdict.reasons) if verdict.kind == DEGENERATE_POLYGON
                          else verdict.kind)
                examples.append(f"{where}: {detail}")
        ann = verdict.apply(ann)
        if ann is not None:
            kept.append(ann)
    if not counts:
        return json_file, {}
    data["annotations"] = kept
    atomic_write_json(out_file, data)
    logger.warning(
        "Evaluation ground truth %r: %s annotation(s) that cannot be evaluated were dropped "
        "or had their unusable polygons removed (%s; e.g. %s), as in training. Metrics are "
        "computed against the cleaned copy %r.", json_file, sum(counts.values()),
        ", ".join(f"{k}={v}" for k, v in sorted(counts.items())), "; ".join(examples), out_file)
    return out_file, dict(counts)
