"""Loading and validating ground truth and detection results.

Every problem either raises an :class:`EvaluationInputError` (a ``ValueError``)
whose message names the file, the offending entry and what was expected, or is
a *counted skip* that ends up in ``report.json["skipped"]``:

=====================  ======================================================
input                  policy
=====================  ======================================================
unknown ``image_id``   skipped, counted (``unknown_image_id``); error if no
                       detection is left
unknown category       skipped, counted (``unknown_category_id``)
non-finite score       error
bad / negative box     error (negative width or height usually means the
                       boxes are ``[x1, y1, x2, y2]`` instead of COCO's
                       ``[x, y, w, h]``)
empty box (w or h 0)   kept and scored as a false positive exactly as
                       pycocotools does, counted (``empty_box``)
malformed segmentation error (wrong ``size``, undecodable ``counts``, bad
                       polygon)
empty results list     error
GT without annotations error
=====================  ======================================================
"""
from __future__ import annotations

import glob
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "EvaluationInputError", "GroundTruthError", "ResultsError",
    "GroundTruth", "Results", "resolve_gt_path", "resolve_results_path",
    "load_ground_truth", "load_results", "to_rle",
]

IOU_TYPES = ("bbox", "segm")
RESULTS_FILE = "coco_instances_results.json"
# what detectron2's COCOEvaluator / LVISEvaluator write in their output_dir
RESULTS_FILES = (RESULTS_FILE, "lvis_instances_results.json")


class EvaluationInputError(ValueError):
    """Bad ground truth or results; the message says which file, entry and why."""


class GroundTruthError(EvaluationInputError):
    pass


class ResultsError(EvaluationInputError):
    pass


# --------------------------------------------------------------------------- paths
def resolve_gt_path(gt: str) -> str:
    """A ground-truth json path, or the ``json_file`` of a registered detectron2 dataset."""
    if os.path.isfile(gt):
        return gt
    if os.path.isdir(gt):
        raise GroundTruthError(
            f"--gt {gt!r} is a folder; expected a COCO-format annotation json file or the "
            "name of a registered detectron2 dataset (e.g. coco_2017_val).")
    try:
        import vitdet_bench  # noqa: F401  (compat bridges before detectron2)
        import detectron2.data.datasets  # noqa: F401  (registers the builtin datasets)
        from detectron2.data import DatasetCatalog, MetadataCatalog

        from vitdet_bench.data import ensure_dataset_files  # registers ours, as train_net does
    except ImportError as e:  # pragma: no cover - detectron2 is a hard dependency
        raise GroundTruthError(
            f"--gt {gt!r} is not a file and detectron2 cannot be imported to look it up as a "
            f"registered dataset name ({e}).") from e
    if gt not in DatasetCatalog.list():
        ours = sorted(n for n in DatasetCatalog.list() if n.startswith(("shapes_", "coco128")))
        raise GroundTruthError(
            f"--gt {gt!r} is neither an existing file nor a registered detectron2 dataset name. "
            "Pass the COCO annotation json, or a dataset registered in DatasetCatalog: "
            f"vitdet_bench's {', '.join(ours)}, or detectron2's builtin COCO sets such as "
            "coco_2017_val (set DETECTRON2_DATASETS to the folder holding coco/).")
    try:
        # vitdet_bench's datasets: generated (synthetic) or checked (coco128) on first use
        return ensure_dataset_files(gt)
    except FileNotFoundError as e:      # e.g. coco128 without DETECTRON2_DATASETS: says where
        raise GroundTruthError(f"--gt {gt!r}: {e}") from e
    except KeyError:
        pass  # a registered set of another project: its metadata's json_file, checked below
    json_file = MetadataCatalog.get(gt).get("json_file", None)
    if not json_file:
        raise GroundTruthError(
            f"Dataset {gt!r} is registered but its metadata has no 'json_file'; COCO-style "
            "evaluation needs a COCO annotation json. Pass the json path instead.")
    if not os.path.isfile(json_file):
        raise GroundTruthError(
            f"Dataset {gt!r} names the annotation file {json_file!r}, which does not exist "
            "(check DETECTRON2_DATASETS).")
    return json_file


def resolve_results_path(results: str) -> str:
    """A results json, or a run / inference folder holding ``coco_instances_results.json``
    (or ``lvis_instances_results.json``, what the LVIS evaluator writes)."""
    if os.path.isfile(results):
        return results
    if not os.path.isdir(results):
        raise ResultsError(f"--results {results!r} does not exist; expected a COCO results json "
                           f"file or a run folder containing {RESULTS_FILE}.")
    for folder in (results, os.path.join(results, "inference")):
        for name in RESULTS_FILES:
            if os.path.isfile(os.path.join(folder, name)):
                return os.path.join(folder, name)
    found = [p for name in RESULTS_FILES
             for p in glob.glob(os.path.join(results, "**", name), recursive=True)]
    if not found:
        raise ResultsError(
            f"Run folder {results!r} contains no {RESULTS_FILE} (looked in the folder, in "
            "inference/ and below); detectron2's COCOEvaluator writes it when given an output_dir "
            f"({RESULTS_FILES[1]} for an LVIS dataset).")
    return max(found, key=os.path.getmtime)  # the latest evaluation


def _load_json(path: str, what: str, error: type) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise error(f"{what} file {path!r} is not valid JSON: {e}.") from e
    except OSError as e:
        raise error(f"Cannot read {what} file {path!r}: {e}.") from e


# --------------------------------------------------------------------------- masks
def to_rle(segm: Any, h: int, w: int) -> dict:
    """Polygons / uncompressed RLE / compressed RLE -> compressed RLE (as COCO.annToRLE)."""
    from pycocotools import mask as mask_utils

    if isinstance(segm, list):
        return mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
    if isinstance(segm.get("counts"), list):
        return mask_utils.frPyObjects(segm, h, w)
    return segm


def _check_polygons(segm: list) -> bool:
    return len(segm) > 0 and all(
        isinstance(p, (list, tuple)) and len(p) >= 6 and len(p) % 2 == 0
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in p) for p in segm)


# --------------------------------------------------------------------------- ground truth
@dataclass
class GroundTruth:
    path: str
    dataset: dict                 # images / annotations / categories, validated
    image_ids: list               # json order
    image_index: dict             # image id -> position
    heights: np.ndarray
    widths: np.ndarray
    categories: dict              # category id -> name, json order
    has_segm: bool
    _rles: list | None = field(default=None, repr=False)
    _fingerprint: str | None = field(default=None, repr=False)

    @property
    def annotations(self) -> list:
        return self.dataset["annotations"]

    def fingerprint(self) -> str:
        """sha256 of the content that evaluation reads (images, categories, annotations).

        Two files with this content evaluate identically wherever they live (train_net
        writes a cleaned copy of the GT into each run folder).
        """
        if self._fingerprint is None:
            import hashlib

            d = self.dataset
            canon = {"images": sorted([im["id"], im.get("height"), im.get("width")]
                                      for im in d["images"]),
                     "categories": sorted([c["id"], str(c.get("name"))] for c in d["categories"]),
                     "annotations": d["annotations"]}
            self._fingerprint = hashlib.sha256(
                json.dumps(canon, sort_keys=True, default=str).encode()).hexdigest()
        return self._fingerprint

    def rles(self) -> list:
        """Compressed RLE of every annotation (computed once)."""
        if self._rles is None:
            from tqdm import tqdm

            anns = self.annotations
            self._rles = [
                to_rle(a["segmentation"], int(self.heights[self.image_index[a["image_id"]]]),
                       int(self.widths[self.image_index[a["image_id"]]]))
                for a in tqdm(anns, desc="GT masks -> RLE", leave=False, disable=None,
                              mininterval=1.0)]
        return self._rles


def load_ground_truth(gt: str | dict, iou_types=IOU_TYPES) -> GroundTruth:
    """Read and validate a COCO ground-truth json (path, registered name or loaded dict)."""
    if isinstance(gt, dict):
        path, data = "<dict>", gt
    else:
        path = resolve_gt_path(gt)
        data = _load_json(path, "ground-truth", GroundTruthError)
    if not isinstance(data, dict):
        raise GroundTruthError(f"Ground-truth file {path!r} holds a {type(data).__name__}; "
                               "expected a COCO dict with 'images', 'annotations', 'categories'.")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise GroundTruthError(
                f"Ground-truth file {path!r} has no list under {key!r}; a COCO instances file "
                "needs 'images', 'annotations' and 'categories'.")
    if not data["annotations"]:
        raise GroundTruthError(
            f"Ground-truth file {path!r} has no annotations (an image-info file such as "
            "image_info_test-dev2017.json?): there is nothing to evaluate against, every AP "
            "would be undefined. Use the instances_*.json file of the split.")
    if not data["images"] or not data["categories"]:
        raise GroundTruthError(f"Ground-truth file {path!r} has an empty 'images' or "
                               "'categories' list.")
    image_ids, heights, widths = [], [], []
    for i, img in enumerate(data["images"]):
        if not isinstance(img, dict) or "id" not in img:
            raise GroundTruthError(f"Ground-truth file {path!r}: images[{i}] has no 'id'.")
        image_ids.append(img["id"])
        heights.append(img.get("height", 0))
        widths.append(img.get("width", 0))
    image_index = {iid: k for k, iid in enumerate(image_ids)}
    if len(image_index) != len(image_ids):
        raise GroundTruthError(f"Ground-truth file {path!r} repeats image ids in 'images'.")
    categories = {}
    for i, c in enumerate(data["categories"]):
        if not isinstance(c, dict) or "id" not in c:
            raise GroundTruthError(f"Ground-truth file {path!r}: categories[{i}] has no 'id'.")
        categories[c["id"]] = str(c.get("name", c["id"]))
    need_segm = "segm" in iou_types
    has_segm = True
    anns = []
    ann_ids = set()
    for i, a in enumerate(data["annotations"]):
        where = f"Ground-truth file {path!r}: annotations[{i}] (id {a.get('id') if isinstance(a, dict) else '?'})"
        if not isinstance(a, dict):
            raise GroundTruthError(f"{where} is not an object.")
        if a.get("image_id") not in image_index:
            raise GroundTruthError(f"{where} names image_id {a.get('image_id')!r}, "
                                   "which is not in 'images'.")
        if a.get("category_id") not in categories:
            raise GroundTruthError(f"{where} names category_id {a.get('category_id')!r}, "
                                   "which is not in 'categories'.")
        bb = a.get("bbox")
        if not (isinstance(bb, (list, tuple)) and len(bb) == 4
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in bb)):
            raise GroundTruthError(f"{where} has bbox {bb!r}; expected [x, y, w, h] of 4 finite numbers.")
        if not isinstance(a.get("area"), (int, float)):
            raise GroundTruthError(f"{where} has no numeric 'area'; COCO's small/medium/large "
                                   "ranges are defined on it.")
        if "id" not in a or a["id"] in ann_ids:
            raise GroundTruthError(f"{where} has a missing or repeated 'id'.")
        ann_ids.add(a["id"])
        if "segmentation" not in a or not a["segmentation"]:
            has_segm = False
            if need_segm:
                raise GroundTruthError(f"{where} has no 'segmentation', so mask AP (segm) cannot "
                                       "be computed; evaluate with --iou-type bbox.")
        a = dict(a)
        a["iscrowd"] = int(bool(a.get("iscrowd", 0)))
        anns.append(a)
    dataset = {"images": data["images"], "annotations": anns, "categories": data["categories"]}
    return GroundTruth(path=path, dataset=dataset, image_ids=image_ids, image_index=image_index,
                       heights=np.asarray(heights, np.int64), widths=np.asarray(widths, np.int64),
                       categories=categories, has_segm=has_segm)


# --------------------------------------------------------------------------- results
@dataclass
class Results:
    path: str
    detections: list              # valid detections, file order (dicts, not modified)
    skipped: dict                 # counted skips
    notes: dict                   # counted oddities that are kept (empty boxes)
    iou_types: tuple              # the iou types the detections carry geometry for
    num_in_file: int


def load_results(results: str | list, gt: GroundTruth, iou_types=IOU_TYPES,
                 strict_iou_types: bool = True, progress: bool | None = None) -> Results:
    """Read and validate detections against ``gt``.

    With ``strict_iou_types=False`` an IoU type whose geometry no detection carries
    (e.g. ``segm`` for a box-only detector) is dropped instead of raising.
    """
    if isinstance(results, list):
        path, dets = "<list>", results
    else:
        path = resolve_results_path(results)
        dets = _load_json(path, "results", ResultsError)
    if isinstance(dets, dict) and "annotations" in dets:
        raise ResultsError(f"Results file {path!r} is a COCO dataset dict; expected the results "
                           "list [{image_id, category_id, bbox/segmentation, score}, ...] "
                           f"(detectron2 writes it as {RESULTS_FILE}).")
    if not isinstance(dets, list):
        raise ResultsError(f"Results file {path!r} holds a {type(dets).__name__}; expected a "
                           "list of detections.")
    if not dets:
        raise ResultsError(
            f"Results file {path!r} is an empty list: the model made no detection, so every AP "
            "would be 0 (or undefined). Check the score threshold and that inference ran on "
            "this dataset.")
    types = []
    for t in iou_types:
        if t not in IOU_TYPES:
            raise ValueError(f"Unknown iou type {t!r}; expected one of {IOU_TYPES}.")
        key = "bbox" if t == "bbox" else "segmentation"
        if any(isinstance(d, dict) and key in d for d in dets):
            types.append(t)
        elif strict_iou_types:
            raise ResultsError(f"Results file {path!r}: no detection has a {key!r} field, so "
                               f"{t} AP cannot be computed (a box-only model has no masks).")
    if not types:
        raise ResultsError(f"Results file {path!r} has neither boxes nor masks for the requested "
                           f"iou types {tuple(iou_types)}.")

    img_index, cats = gt.image_index, gt.categories
    skipped = {"unknown_image_id": 0, "unknown_category_id": 0}
    notes = {"empty_box": 0}
    unknown_imgs: set = set()
    unknown_cats: set = set()
    keep = []
    need_box, need_mask = "bbox" in types, "segm" in types
    from tqdm import tqdm

    it = tqdm(dets, desc="validate results", disable=None if progress is None else not progress,
              leave=False, mininterval=1.0, miniters=10000)
    for i, d in enumerate(it):
        if not isinstance(d, dict):
            raise ResultsError(f"Results file {path!r}: entry {i} is a {type(d).__name__}, "
                               "expected an object with image_id, category_id, score.")
        for key in ("image_id", "category_id", "score"):
            if key not in d:
                raise ResultsError(f"Results file {path!r}: detection {i} has no {key!r}; "
                                   "every detection needs image_id, category_id and score.")
        s = d["score"]
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s):
            raise ResultsError(
                f"Results file {path!r}: detection {i} (image_id {d['image_id']!r}) has score "
                f"{s!r}; scores must be finite numbers (NaN or inf usually means the model "
                "diverged, and they cannot be ranked).")
        if d["image_id"] not in img_index:
            skipped["unknown_image_id"] += 1
            unknown_imgs.add(d["image_id"])
            continue
        if d["category_id"] not in cats:
            skipped["unknown_category_id"] += 1
            unknown_cats.add(d["category_id"])
            continue
        if need_box:
            bb = d.get("bbox")
            if not (isinstance(bb, (list, tuple)) and len(bb) == 4
                    and all(isinstance(v, (int, float)) and math.isfinite(v) for v in bb)):
                raise ResultsError(
                    f"Results file {path!r}: detection {i} (image_id {d['image_id']!r}) has "
                    f"bbox {bb!r}; expected [x, y, width, height], 4 finite numbers.")
            if bb[2] < 0 or bb[3] < 0:
                raise ResultsError(
                    f"Results file {path!r}: detection {i} (image_id {d['image_id']!r}) has "
                    f"bbox {list(bb)} with a negative width or height; COCO boxes are "
                    "[x, y, width, height]. Were [x1, y1, x2, y2] boxes written without "
                    "conversion (BoxMode.convert(..., XYXY_ABS, XYWH_ABS))?")
            if bb[2] == 0 or bb[3] == 0:
                notes["empty_box"] += 1
        if need_mask:
            _check_segmentation(d, i, path, gt)
        keep.append(d)
    if not keep:
        raise ResultsError(
            f"Results file {path!r}: none of its {len(dets)} detections can be evaluated against "
            f"{gt.path!r} ({skipped['unknown_image_id']} name image ids absent from the ground "
            f"truth, e.g. {sorted(map(str, unknown_imgs))[:3]}; "
            f"{skipped['unknown_category_id']} name unknown category ids, e.g. "
            f"{sorted(map(str, unknown_cats))[:3]}). Are results and ground truth from the "
            "same split, with the dataset's category ids (not contiguous 0..K-1 indices)?")
    return Results(path=path, detections=keep, skipped=skipped, notes=notes,
                   iou_types=tuple(types), num_in_file=len(dets))


def _check_segmentation(d: dict, i: int, path: str, gt: GroundTruth) -> None:
    from pycocotools import mask as mask_utils

    seg = d.get("segmentation")
    k = gt.image_index[d["image_id"]]
    h, w = int(gt.heights[k]), int(gt.widths[k])
    where = f"Results file {path!r}: detection {i} (image_id {d['image_id']!r})"
    if isinstance(seg, list):
        if not _check_polygons(seg):
            raise ResultsError(f"{where} has a polygon segmentation that is not a list of "
                               "[x1, y1, x2, y2, ...] lists with >= 3 finite points each.")
        return
    if not isinstance(seg, dict) or "counts" not in seg or "size" not in seg:
        raise ResultsError(f"{where} has segmentation of type {type(seg).__name__}; expected an "
                           "RLE {'size': [height, width], 'counts': ...} or polygons.")
    size = seg["size"]
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and list(size) == [h, w]):
        raise ResultsError(f"{where} has an RLE of size {size!r}, but the image is "
                           f"[height, width] = [{h}, {w}] in the ground truth.")
    counts = seg["counts"]
    if isinstance(counts, list):
        if not all(isinstance(c, int) and c >= 0 for c in counts) or sum(counts) != h * w:
            raise ResultsError(f"{where} has an uncompressed RLE whose counts are not "
                               f"non-negative integers summing to height*width = {h * w}.")
        return
    if not isinstance(counts, (str, bytes)):
        raise ResultsError(f"{where} has RLE counts of type {type(counts).__name__}; expected "
                           "a compressed string (pycocotools.mask.encode) or a list.")
    try:
        area = int(mask_utils.area(seg))
        bbox = mask_utils.toBbox(seg)
    except Exception as e:  # pycocotools raises assorted errors on garbage
        raise ResultsError(f"{where} has RLE counts that pycocotools cannot decode ({e}).") from e
    if area > h * w or bbox[0] + bbox[2] > w + 1e-6 or bbox[1] + bbox[3] > h + 1e-6:
        raise ResultsError(f"{where} has RLE counts that run outside the {h}x{w} image "
                           "(corrupt or for another image size).")
