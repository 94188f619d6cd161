"""LVIS v1: registration under ``$DETECTRON2_DATASETS/lvis``, frequencies, repeat factors.

detectron2's layout: ``lvis/lvis_v1_{train,val}.json`` and the COCO 2017 images
under ``coco/`` (``train2017/``, ``val2017/``; an LVIS image's folder and file come
from its ``coco_url``). ``lvis_v1_train`` / ``lvis_v1_val`` are registered here in
place of detectron2's builtin entries (which need lvis-api to load and fail with a
bare ``FileNotFoundError``): the loader reads the json itself, a missing file is one
paragraph naming the path and the variable, and the metadata carries what LVIS
training and evaluation need without reading the json:

* ``thing_classes``, ``thing_dataset_id_to_contiguous_id`` (ids 1..1203);
* ``class_frequency``: ``"r"`` / ``"c"`` / ``"f"`` per contiguous class (rare: in
  1-10 training images, common: 11-100, frequent: more);
* ``evaluator_type="lvis"``: :func:`vitdet_bench.evaluation.lvis_eval` applies.

:func:`register_lvis_instances` registers any LVIS-format json (the tests' splits);
:func:`register_synthetic_lvis` the LVIS-format copies of the synthetic shapes
(``shapes_lvis_train`` / ``shapes_lvis_val``, for CPU runs of the LVIS protocol).
:func:`class_image_counts` gives the per-class training image counts (the json's
``image_count``), the weights of the federated loss; :func:`repeat_factors` the
per-image repeat factors of repeat-factor sampling (detectron2's
``RepeatFactorTrainingSampler.repeat_factors_from_category_frequency``).
"""
from __future__ import annotations

import json
import logging
import os
from typing import Dict, List, Optional, Tuple

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

__all__ = ["LVIS_V1_NAMES", "LVIS_REPEAT_THRESHOLD", "lvis_paths", "load_lvis_json_checked",
           "lvis_metadata", "register_lvis_instances", "register_lvis_v1", "class_image_counts",
           "repeat_factors", "repeat_factor_sampler", "SYNTHETIC_LVIS_SPLITS",
           "register_synthetic_lvis"]

logger = logging.getLogger(__name__)

LVIS_V1_NAMES = {"lvis_v1_train": "lvis_v1_train.json", "lvis_v1_val": "lvis_v1_val.json"}
LVIS_REPEAT_THRESHOLD = 0.001     # ViTDet's LVIS configs (and LVIS's paper): t = 0.001
FREQUENCIES = ("r", "c", "f")


def lvis_paths(name: str, root: Optional[str] = None) -> Tuple[str, str]:
    """(json_file, image_root) of ``lvis_v1_train`` / ``lvis_v1_val`` under ``root``."""
    from .datasets import datasets_root

    base = root if root is not None else datasets_root()
    return os.path.join(base, "lvis", LVIS_V1_NAMES[name]), os.path.join(base, "coco")


def _missing_message(name: str, json_file: str, image_root: str) -> str:
    return (
        f"Dataset {name!r} needs LVIS v1, but {json_file!r} and/or the COCO 2017 image folder "
        f"{image_root!r} do not exist. LVIS is looked up under the detectron2 dataset root, "
        "the environment variable DETECTRON2_DATASETS (currently "
        f"{os.environ.get('DETECTRON2_DATASETS', '<unset>, so ./datasets')!r}), in "
        "detectron2's layout: lvis/lvis_v1_train.json and lvis/lvis_v1_val.json (from "
        "lvisdataset.org) next to coco/train2017 and coco/val2017 (the COCO 2017 images, "
        "which LVIS v1 annotates). Set DETECTRON2_DATASETS to the folder holding lvis/ and "
        "coco/ before vitdet_bench.data is imported, or call register_lvis_v1(root=..., "
        "overwrite=True).")


def _file_name(image_root: str, img: dict) -> str:
    # LVIS v1 names an image by its COCO url: .../train2017/000000155379.jpg
    if "coco_url" in img:
        split_folder, file_name = img["coco_url"].split("/")[-2:]
        return os.path.join(image_root, split_folder, file_name)
    return os.path.join(image_root, img["file_name"])


def lvis_metadata(categories: List[dict]) -> dict:
    """thing_classes / id map / class_frequency (and class_image_count when the json has it)."""
    cats = sorted(categories, key=lambda c: c["id"])
    bad = [c for c in cats if c.get("frequency") not in FREQUENCIES]
    if bad:
        raise ValueError(f"LVIS category {bad[0].get('id')!r} ({bad[0].get('name')!r}) has "
                         f"frequency {bad[0].get('frequency')!r}; expected one of {FREQUENCIES}.")
    meta = {
        "thing_classes": [c["synonyms"][0] if c.get("synonyms") else c["name"] for c in cats],
        "thing_dataset_id_to_contiguous_id": {c["id"]: k for k, c in enumerate(cats)},
        "class_frequency": [c["frequency"] for c in cats],
    }
    if all("image_count" in c for c in cats):
        meta["class_image_count"] = [int(c["image_count"]) for c in cats]
    return meta


def load_lvis_json_checked(json_file: str, image_root: str, dataset_name: Optional[str] = None
                           ) -> List[dict]:
    """An LVIS json as detectron2 dataset dicts (as detectron2's load_lvis_json, no lvis-api).

    Records carry ``neg_category_ids`` / ``not_exhaustive_category_ids`` (dataset ids);
    annotations contiguous ``category_id``, XYWH boxes, polygons (or RLE) and their ``id``.
    With ``dataset_name`` the metadata gets ``class_image_count`` from the json.
    """
    with open(json_file, encoding="utf-8") as f:
        data = json.load(f)
    meta = lvis_metadata(data["categories"])
    if dataset_name is not None and "class_image_count" in meta:
        MetadataCatalog.get(dataset_name).set(class_image_count=meta["class_image_count"])
    to_contiguous = meta["thing_dataset_id_to_contiguous_id"]
    by_img: Dict[int, list] = {}
    for a in data["annotations"]:
        by_img.setdefault(a["image_id"], []).append(a)
    out = []
    for img in sorted(data["images"], key=lambda im: im["id"]):
        objs = []
        for a in by_img.get(img["id"], []):
            segm = a["segmentation"]
            if isinstance(segm, list) and (not segm or any(len(p) % 2 or len(p) < 6
                                                           for p in segm)):
                raise ValueError(f"{json_file}: annotation {a.get('id')!r} of image {img['id']} "
                                 "has an empty polygon list or a polygon of < 3 points.")
            objs.append({"id": a["id"], "bbox": a["bbox"], "bbox_mode": BoxMode.XYWH_ABS,
                         "category_id": to_contiguous[a["category_id"]], "segmentation": segm})
        out.append({"file_name": _file_name(image_root, img), "height": img["height"],
                    "width": img["width"], "image_id": img["id"],
                    "neg_category_ids": img.get("neg_category_ids", []),
                    "not_exhaustive_category_ids": img.get("not_exhaustive_category_ids", []),
                    "annotations": objs})
    logger.info("Loaded %d images in the LVIS format from %s", len(out), json_file)
    return out


def register_lvis_instances(name: str, json_file: str, image_root: str,
                            categories: Optional[List[dict]] = None, overwrite: bool = False
                            ) -> None:
    """Register an LVIS-format json under ``name`` (metadata from ``categories`` or the json)."""
    from .datasets import _ENSURE_FILES

    if name in DatasetCatalog.list():
        ours = MetadataCatalog.get(name).get("class_frequency", None) is not None
        if ours and not overwrite:
            return
        DatasetCatalog.remove(name)     # detectron2's builtin entry, or re-pointed paths
        MetadataCatalog.remove(name)

    def ensure_files() -> str:
        if not (os.path.isfile(json_file) and os.path.isdir(image_root)):
            raise FileNotFoundError(_missing_message(name, json_file, image_root))
        return json_file

    def load() -> List[dict]:
        ensure_files()
        return load_lvis_json_checked(json_file, image_root, name)

    if categories is None and os.path.isfile(json_file):
        with open(json_file, encoding="utf-8") as f:
            categories = json.load(f)["categories"]
    meta = lvis_metadata(categories) if categories is not None else {}
    DatasetCatalog.register(name, load)
    MetadataCatalog.get(name).set(json_file=json_file, image_root=image_root,
                                  evaluator_type="lvis", **meta)
    _ENSURE_FILES[name] = ensure_files


def register_lvis_v1(root: Optional[str] = None, overwrite: bool = False) -> None:
    """Register ``lvis_v1_train`` and ``lvis_v1_val`` (categories and frequencies from
    detectron2's ``LVIS_V1_CATEGORIES``, so nothing is read)."""
    from detectron2.data.datasets.lvis_v1_categories import LVIS_CATEGORIES

    for name in LVIS_V1_NAMES:
        json_file, image_root = lvis_paths(name, root)
        register_lvis_instances(name, json_file, image_root, categories=LVIS_CATEGORIES,
                                overwrite=overwrite)


def class_image_counts(dataset_name: str) -> List[int]:
    """Training images holding each contiguous class: the json's ``image_count``.

    Read from the metadata when set (loading the dataset sets it), else from the json.
    """
    meta = MetadataCatalog.get(dataset_name)
    counts = meta.get("class_image_count", None)
    if counts is None:
        if meta.get("synthetic_config", None) is not None:   # generated on first use
            from .datasets import ensure_dataset_files

            ensure_dataset_files(dataset_name)
        json_file = meta.get("json_file", None)
        if not json_file or not os.path.isfile(json_file):
            raise FileNotFoundError(
                f"Dataset {dataset_name!r}: the federated loss weighs classes by their number of "
                f"training images (the categories' 'image_count' in the LVIS json), but the json "
                f"{json_file!r} does not exist. " + (_missing_message(
                    dataset_name, json_file, meta.get("image_root", "?")) if json_file else ""))
        with open(json_file, encoding="utf-8") as f:
            cats = json.load(f)["categories"]
        if not all("image_count" in c for c in cats):
            raise ValueError(f"{json_file}: LVIS categories need 'image_count' (the number of "
                             "training images holding the category) for the federated loss.")
        counts = lvis_metadata(cats)["class_image_count"]
        meta.set(class_image_count=counts)
    return list(counts)


def repeat_factors(dataset_dicts: List[dict], repeat_thresh: float = LVIS_REPEAT_THRESHOLD):
    """Per-image repeat factors of repeat-factor sampling (LVIS paper, Sec. 4.2):
    ``max(1, sqrt(t / f(c)))`` over the image's classes, ``f(c)`` the share of images
    holding ``c``; detectron2's implementation."""
    from detectron2.data.samplers import RepeatFactorTrainingSampler

    return RepeatFactorTrainingSampler.repeat_factors_from_category_frequency(
        dataset_dicts, repeat_thresh)


def repeat_factor_sampler(repeat_factors, seed: int, start: int = 0, rank=None, world_size=None):
    """The engine's resumable ``(position, index)`` stream with repeat-factor sampling
    (:class:`vitdet_bench.engine.data.RepeatFactorResumableSampler`).

    Each pass over the data draws every image ``floor(r)`` times plus once more with
    probability ``r - floor(r)`` (detectron2's ``RepeatFactorTrainingSampler``: stochastic
    rounding, then a shuffle), from one generator seeded by ``seed``, so the stream is
    the same for a resumed run (``start``: stream positions to skip) and across ranks
    (rank ``k`` of ``n`` takes positions ``k, k + n, ...``).
    """
    from vitdet_bench.engine.data import RepeatFactorResumableSampler

    return RepeatFactorResumableSampler(repeat_factors, seed, start=start, rank=rank,
                                        world_size=world_size)


# LVIS-format copies of the synthetic shapes: name -> (shapes split, seed of its federated lists)
SYNTHETIC_LVIS_SPLITS = {"shapes_lvis_train": ("shapes_train", 0), "shapes_lvis_val": ("shapes_val", 1)}
SYNTHETIC_LVIS_FREQUENCY_SPLIT = "shapes_train"   # frequencies count training images, as LVIS's


def _synthetic_lvis_json(name: str, cache_root: Optional[str] = None) -> str:
    """Write (once) the LVIS-format copy of ``name``'s shapes split next to it; its path.

    Federated lists as :func:`vitdet_bench.evaluation.lvis_eval.federated_from_coco`
    draws them (seeded); every split takes the categories' frequency and image count
    from the training split."""
    from vitdet_bench.evaluation.lvis_eval import federated_from_coco
    from vitdet_bench.utils.io import atomic_write_json

    from .datasets import SYNTHETIC_SPLITS
    from .synthetic_shapes import ensure_synthetic_split

    base, seed = SYNTHETIC_LVIS_SPLITS[name]
    files = ensure_synthetic_split(SYNTHETIC_SPLITS[base], cache_root)
    out = os.path.join(files.folder, f"{name}.json")
    if os.path.isfile(out):
        return out
    with open(files.json_file, encoding="utf-8") as f:
        lv = federated_from_coco(json.load(f), seed=seed, p_neg=0.5, p_not_exhaustive=0.2)
    if base != SYNTHETIC_LVIS_SPLITS[_TRAIN_OF_SYNTHETIC][0]:
        with open(_synthetic_lvis_json(_TRAIN_OF_SYNTHETIC, cache_root), encoding="utf-8") as f:
            lv["categories"] = json.load(f)["categories"]
    atomic_write_json(out, lv, indent=None)
    return out


_TRAIN_OF_SYNTHETIC = "shapes_lvis_train"


def register_synthetic_lvis(cache_root: Optional[str] = None, overwrite: bool = False) -> None:
    """Register ``shapes_lvis_train`` / ``shapes_lvis_val``: the synthetic shapes (5
    classes) in the LVIS format, generated on first use (frequencies r/c/f by terciles
    of the training split's image counts, negative and not-exhaustive lists per image)."""
    from .datasets import _ENSURE_FILES, SYNTHETIC_SPLITS
    from .synthetic_shapes import split_files

    for name, (base, _) in SYNTHETIC_LVIS_SPLITS.items():
        if name in DatasetCatalog.list():
            if not overwrite:
                continue
            DatasetCatalog.remove(name)
            MetadataCatalog.remove(name)
        config = SYNTHETIC_SPLITS[base]
        files = split_files(config, cache_root)

        def ensure_files(name=name) -> str:
            return _synthetic_lvis_json(name, cache_root)

        def load(name=name, image_root=files.image_root) -> List[dict]:
            json_file = ensure_files(name)
            with open(json_file, encoding="utf-8") as f:
                cats = json.load(f)["categories"]
            MetadataCatalog.get(name).set(class_frequency=lvis_metadata(cats)["class_frequency"])
            return load_lvis_json_checked(json_file, image_root, name)

        DatasetCatalog.register(name, load)
        # synthetic_config: generated on first use, so the pre-flight file check skips it
        MetadataCatalog.get(name).set(
            json_file=os.path.join(files.folder, f"{name}.json"), image_root=files.image_root,
            evaluator_type="lvis", thing_classes=list(config.classes),
            thing_dataset_id_to_contiguous_id={i + 1: i for i in range(len(config.classes))},
            synthetic_config=config.to_dict())
        _ENSURE_FILES[name] = ensure_files
