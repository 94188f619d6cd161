"""Shared helpers for the data-layer tests: tiny synthetic splits, coco128, broken datasets.

Helpers are imported by the tests (pytest.ini puts tests/ on the import path); the
``tiny_shapes`` fixture is available everywhere through ``pytest_plugins`` in
tests/conftest.py.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
from typing import Callable, Dict, List, Sequence, Tuple, Union

import pytest

import vitdet_bench  # noqa: F401  (compat patches before detectron2)
from vitdet_bench.data.synthetic_shapes import SyntheticShapesConfig, ensure_synthetic_split

# A split small enough to generate in a fraction of a second.
TINY_CONFIG = SyntheticShapesConfig(split="tiny", num_images=8, image_size=128, seed=7)


def coco128_dir() -> str:
    root = os.environ.get("DETECTRON2_DATASETS", "datasets")
    return os.path.join(root, "coco128")


def coco128_or_skip() -> Tuple[str, str]:
    """(json_file, image_root) of coco128, or skip the test with the reason."""
    base = coco128_dir()
    json_file = os.path.join(base, "annotations", "instances_train2017.json")
    image_root = os.path.join(base, "train2017")
    if not (os.path.isfile(json_file) and os.path.isdir(image_root)):
        pytest.skip(f"coco128 not found at {base!r}: set DETECTRON2_DATASETS to the folder "
                    "that holds coco128/ (detectron2's dataset root, default ./datasets)")
    return json_file, image_root


@pytest.fixture(scope="session")
def tiny_shapes(tmp_path_factory):
    """A generated tiny synthetic split in a private cache: SyntheticSplitFiles."""
    return ensure_synthetic_split(TINY_CONFIG, str(tmp_path_factory.mktemp("shapes_cache")))


def load_json(path: str) -> dict:
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f)


def write_json(path: str, data: dict) -> None:
    from vitdet_bench.utils.io import atomic_write_json

    atomic_write_json(path, data)


# ----------------------------------------------------------------------------- broken corpus
# Each corruption edits a COCO dict (and maybe image files) and returns what it broke,
# so tests can check that the message names exactly that image / annotation.
# Annotation corruptions take ``nth``: which polygon annotation to break (0 = the first),
# so several can be combined in one dataset (see make_broken_dataset).

def _first_ann_with_polygon(data: dict, nth: int = 0) -> dict:
    anns = [a for a in data["annotations"]
            if not a.get("iscrowd", 0) and isinstance(a.get("segmentation"), list)]
    return anns[nth]


def break_missing_image(data: dict, image_root: str, work: str) -> dict:
    img = data["images"][1]
    img["file_name"] = "does_not_exist_" + os.path.basename(img["file_name"])
    return {"image_id": img["id"], "file_name": img["file_name"]}


def break_unreadable_image(data: dict, image_root: str, work: str) -> dict:
    img = data["images"][1]
    path = os.path.join(work, "garbage.jpg")
    with open(path, "wb") as f:
        f.write(b"this is not an image at all\n" * 10)
    img["file_name"] = path  # absolute: os.path.join(image_root, abs) == abs
    return {"image_id": img["id"], "file_name": "garbage.jpg"}


def break_truncated_image(data: dict, image_root: str, work: str) -> dict:
    img = data["images"][1]
    src = os.path.join(image_root, img["file_name"])
    with open(src, "rb") as f:
        blob = f.read()
    path = os.path.join(work, "truncated.jpg")
    with open(path, "wb") as f:
        f.write(blob[: len(blob) // 3])  # header intact, scan data cut off
    img["file_name"] = path
    return {"image_id": img["id"], "file_name": "truncated.jpg"}


def break_image_size(data: dict, image_root: str, work: str) -> dict:
    img = data["images"][1]
    img["width"] += 12
    return {"image_id": img["id"], "file_name": img["file_name"]}


def break_empty_box(data: dict, image_root: str, work: str, nth: int = 0) -> dict:
    ann = _first_ann_with_polygon(data, nth)
    ann["bbox"][2] = 0.0
    return {"image_id": ann["image_id"], "annotation_id": ann["id"]}


def break_negative_box(data: dict, image_root: str, work: str, nth: int = 0) -> dict:
    ann = _first_ann_with_polygon(data, nth)
    ann["bbox"][3] = -abs(ann["bbox"][3]) - 1.0
    return {"image_id": ann["image_id"], "annotation_id": ann["id"]}


def break_polygon_points(data: dict, image_root: str, work: str, nth: int = 0) -> dict:
    ann = _first_ann_with_polygon(data, nth)
    ann["segmentation"] = [ann["segmentation"][0][:4]]  # 2 points
    return {"image_id": ann["image_id"], "annotation_id": ann["id"]}


def break_polygon_zero_area(data: dict, image_root: str, work: str, nth: int = 0) -> dict:
    ann = _first_ann_with_polygon(data, nth)
    x, y, w, h = ann["bbox"]
    ann["segmentation"] = [[x, y, x + w / 2, y + h / 2, x + w, y + h]]  # collinear
    return {"image_id": ann["image_id"], "annotation_id": ann["id"]}


def break_unknown_category(data: dict, image_root: str, work: str, nth: int = 0) -> dict:
    ann = _first_ann_with_polygon(data, nth)
    ann["category_id"] = 999
    return {"image_id": ann["image_id"], "annotation_id": ann["id"]}


def break_missing_segmentation(data: dict, image_root: str, work: str, nth: int = 0) -> dict:
    ann = _first_ann_with_polygon(data, nth)
    del ann["segmentation"]  # a box-only annotation among masked ones
    return {"image_id": ann["image_id"], "annotation_id": ann["id"]}


CORRUPTIONS: Dict[str, Callable[..., dict]] = {
    "missing_image": break_missing_image,
    "unreadable_image": break_unreadable_image,
    "truncated_image": break_truncated_image,
    "size_mismatch": break_image_size,
    "empty_box": break_empty_box,
    "negative_box": break_negative_box,
    "polygon_two_points": break_polygon_points,
    "polygon_zero_area": break_polygon_zero_area,
    "unknown_category": break_unknown_category,
    "missing_segmentation": break_missing_segmentation,
}

# Problems that stop a run (with a message) and problems that are dropped and counted.
FATAL_CORRUPTIONS = ("missing_image", "unreadable_image", "truncated_image", "size_mismatch",
                     "unknown_category")
ANNOTATION_CORRUPTIONS = ("empty_box", "negative_box", "polygon_two_points", "polygon_zero_area",
                          "unknown_category", "missing_segmentation")
SKIPPED_CORRUPTIONS = tuple(c for c in ANNOTATION_CORRUPTIONS if c not in FATAL_CORRUPTIONS)


def make_broken_dataset(source_json: str, image_root: str, work: str,
                        corruption: Union[str, Sequence[str]],
                        keep_images: int = 4) -> Tuple[str, str, dict]:
    """Write a corrupted copy of the first ``keep_images`` images' annotations.

    Images are not copied: the json points at ``image_root`` (or, for files the
    corruption creates, at absolute paths under ``work``). Returns
    (json_file, image_root, what_was_broken). ``corruption`` may be a list of
    annotation corruptions: each breaks a different polygon annotation (the k-th
    for the k-th name) and what_was_broken maps each name to what it broke.
    """
    os.makedirs(work, exist_ok=True)
    data = copy.deepcopy(load_json(source_json))
    # Keep only images that have a polygon annotation so every corruption applies.
    with_polygons = sorted({a["image_id"] for a in data["annotations"]
                            if not a.get("iscrowd", 0) and isinstance(a.get("segmentation"), list)})
    keep = set(with_polygons[:keep_images])
    data["images"] = sorted([i for i in data["images"] if i["id"] in keep], key=lambda i: i["id"])
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    if isinstance(corruption, str):
        broken = CORRUPTIONS[corruption](data, image_root, work)
        tag = corruption
    else:
        assert all(c in ANNOTATION_CORRUPTIONS for c in corruption), corruption
        broken = {c: CORRUPTIONS[c](data, image_root, work, nth=k)
                  for k, c in enumerate(corruption)}
        tag = "+".join(corruption)
    json_file = os.path.join(work, f"broken_{tag}.json")
    write_json(json_file, data)
    return json_file, image_root, broken


def copy_split(files, dest: str) -> Tuple[str, str]:
    """Copy a generated split (json + images) to ``dest``; returns (json_file, image_root)."""
    shutil.copytree(files.folder, dest)
    return os.path.join(dest, os.path.basename(files.json_file)), os.path.join(
        dest, os.path.basename(files.image_root))


def assert_clean_batch(batch: List[dict], image_size: int, num_classes: int) -> int:
    """Assert a mapped training batch is well formed; returns its number of instances."""
    total = 0
    for d in batch:
        assert tuple(d["image"].shape) == (3, image_size, image_size)
        inst = d["instances"]
        boxes = inst.gt_boxes.tensor
        assert bool(((boxes[:, 2] - boxes[:, 0]) > 0).all()) and bool(
            ((boxes[:, 3] - boxes[:, 1]) > 0).all()), boxes
        assert bool(((inst.gt_classes >= 0) & (inst.gt_classes < num_classes)).all())
        for polys in inst.gt_masks.polygons:
            assert len(polys) > 0 and all(len(p) >= 6 for p in polys)
        total += len(inst)
    return total
