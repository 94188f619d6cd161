"""Dataset registration: synthetic shapes and coco128.

Registering is cheap and idempotent: nothing is generated or read at import time.
Registered names:

* ``shapes_train`` / ``shapes_val`` -- the synthetic shapes dataset
  (:mod:`vitdet_bench.data.synthetic_shapes`), generated into the cache on the first
  ``DatasetCatalog.get`` or :func:`ensure_dataset_files` call;
* ``coco128_train`` -- the 128 real COCO train2017 images of
  ``$DETECTRON2_DATASETS/coco128``;
* ``coco128_val`` -- the *same* 128 images, for overfit evaluation (a model trained
  on coco128_train is evaluated on what it saw: the check that it can learn);
* ``coco128_first16`` -- the first 16 images by image id: a seconds-long evaluation
  subset. Its metadata json_file is the full json; COCOEvaluator restricts COCOeval
  to the image ids that received predictions, so the scores are for those 16.

Metadata of every name: ``json_file``, ``image_root``, ``evaluator_type="coco"``,
``thing_classes`` and ``thing_dataset_id_to_contiguous_id`` (set at registration,
so a model can size its heads before any data is loaded).
"""
from __future__ import annotations

import logging
import os
from typing import Callable, Dict, List, Optional

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import load_coco_json

from .lvis import register_lvis_v1, register_synthetic_lvis
from .synthetic_shapes import SyntheticShapesConfig, ensure_synthetic_split, split_files
from .validate import DatasetValidationError, validate_coco_json

__all__ = [
    "SYNTHETIC_SPLITS",
    "COCO128_NAMES",
    "datasets_root",
    "coco128_paths",
    "load_coco_json_checked",
    "register_synthetic_shapes",
    "register_coco128",
    "register_all",
    "ensure_dataset_files",
]

logger = logging.getLogger(__name__)

# Default synthetic splits: 600 train / 100 val images of 256x256 -- small enough for a
# tiny ViT Mask R-CNN to learn on a 2-core CPU in minutes (see docs/data.md).
SYNTHETIC_SPLITS: Dict[str, SyntheticShapesConfig] = {
    "shapes_train": SyntheticShapesConfig(split="train", num_images=600),
    "shapes_val": SyntheticShapesConfig(split="val", num_images=100),
    # 8 validation images: the evaluation of the tiny study the cluster tests run
    "shapes_val_mini": SyntheticShapesConfig(split="val", num_images=8),
}

COCO128_DIRNAME = "coco128"
COCO128_JSON = os.path.join("annotations", "instances_train2017.json")
COCO128_IMAGES = "train2017"
COCO128_NAMES = ("coco128_train", "coco128_val", "coco128_first16")
_FIRST_N = {"coco128_first16": 16}

# name -> callable that makes the dataset's files exist and returns the json path.
_ENSURE_FILES: Dict[str, Callable[[], str]] = {}


def datasets_root() -> str:
    """detectron2's dataset root convention: ``$DETECTRON2_DATASETS``, default "datasets"."""
    return os.path.expanduser(os.environ.get("DETECTRON2_DATASETS", "datasets"))


def coco128_paths(root: Optional[str] = None):
    """(json_file, image_root) of coco128 under ``root`` (default: :func:`datasets_root`)."""
    base = os.path.join(root if root is not None else datasets_root(), COCO128_DIRNAME)
    return os.path.join(base, COCO128_JSON), os.path.join(base, COCO128_IMAGES)


def load_coco_json_checked(json_file: str, image_root: str, dataset_name: Optional[str] = None
                           ) -> List[dict]:
    """detectron2's ``load_coco_json`` with readable failures and annotation ids kept.

    On success this is exactly load_coco_json (plus each annotation's ``id``, so later
    messages can name it). As there, pass ``dataset_name`` to get contiguous class
    indices (and metadata); without it category ids stay as in the json. When detectron2 fails -- a bare ``KeyError: 99`` for an
    unknown category, an assert on duplicate ids -- the json is validated (image files
    are not read) and a DatasetValidationError naming every offending annotation is
    raised instead.
    """
    try:
        return load_coco_json(json_file, image_root, dataset_name, extra_annotation_keys=["id"])
    except (KeyError, AssertionError, ValueError, TypeError) as e:
        report = validate_coco_json(json_file, image_root, check_image_files=False)
        if report.ok:
            raise  # not a data problem we know how to describe
        raise DatasetValidationError(
            f"Cannot load dataset {dataset_name or json_file!r}: " + report.error_message(),
            report=report) from e


def _register(name: str, loader: Callable[[], List[dict]], ensure_files: Callable[[], str],
              overwrite: bool, **metadata) -> None:
    if name in DatasetCatalog.list():
        if not overwrite:
            return
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    DatasetCatalog.register(name, loader)
    MetadataCatalog.get(name).set(evaluator_type="coco", **metadata)
    _ENSURE_FILES[name] = ensure_files


def register_synthetic_shapes(name: str, config: SyntheticShapesConfig,
                              cache_root: Optional[str] = None, overwrite: bool = False) -> None:
    """Register one synthetic split under ``name``; its files are generated lazily."""
    files = split_files(config, cache_root)

    def ensure_files() -> str:
        return ensure_synthetic_split(config, cache_root).json_file

    def load() -> List[dict]:
        generated = ensure_synthetic_split(config, cache_root)
        return load_coco_json_checked(generated.json_file, generated.image_root, name)

    _register(
        name, load, ensure_files, overwrite,
        json_file=files.json_file,
        image_root=files.image_root,
        thing_classes=list(config.classes),
        thing_dataset_id_to_contiguous_id={i + 1: i for i in range(len(config.classes))},
        synthetic_config=config.to_dict(),
    )


def _coco128_missing_message(name: str, json_file: str, image_root: str) -> str:
    return (
        f"Dataset {name!r} needs coco128, but {json_file!r} and/or the image folder "
        f"{image_root!r} do not exist. coco128 is looked up under the detectron2 dataset "
        "root, the environment variable DETECTRON2_DATASETS (currently "
        f"{os.environ.get('DETECTRON2_DATASETS', '<unset>, so ./datasets')!r}); set it to the "
        "folder that holds the datasets by name (coco/, coco128/, ...), so that "
        "$DETECTRON2_DATASETS/coco128/annotations/instances_train2017.json exists, "
        "before vitdet_bench.data is imported, or call register_all(datasets_root=..., "
        "overwrite=True)."
    )


def register_coco128(root: Optional[str] = None, overwrite: bool = False) -> None:
    """Register coco128_train, coco128_val and coco128_first16 from ``root``/coco128."""
    # The 80 COCO categories, ids and names: identical to coco128's json (tested), and
    # known without reading it.
    from detectron2.data.datasets.builtin_meta import _get_builtin_metadata

    coco_meta = _get_builtin_metadata("coco")
    json_file, image_root = coco128_paths(root)

    for name in COCO128_NAMES:
        def ensure_files(name=name) -> str:
            if not (os.path.isfile(json_file) and os.path.isdir(image_root)):
                raise FileNotFoundError(_coco128_missing_message(name, json_file, image_root))
            return json_file

        def load(name=name) -> List[dict]:
            ensure_files(name)
            dicts = load_coco_json_checked(json_file, image_root, name)
            limit = _FIRST_N.get(name)
            return dicts[:limit] if limit else dicts  # load_coco_json sorts by image id

        _register(
            name, load, ensure_files, overwrite,
            json_file=json_file,
            image_root=image_root,
            thing_classes=list(coco_meta["thing_classes"]),
            thing_dataset_id_to_contiguous_id=dict(coco_meta["thing_dataset_id_to_contiguous_id"]),
            thing_colors=list(coco_meta["thing_colors"]),
        )


def register_all(cache_root: Optional[str] = None, datasets_root: Optional[str] = None,
                 overwrite: bool = False) -> None:
    """Register every vitdet_bench dataset (idempotent; ``overwrite`` re-points paths)."""
    for name, config in SYNTHETIC_SPLITS.items():
        register_synthetic_shapes(name, config, cache_root, overwrite=overwrite)
    register_coco128(datasets_root, overwrite=overwrite)
    register_lvis_v1(datasets_root, overwrite=overwrite)
    register_synthetic_lvis(cache_root, overwrite=overwrite)


def ensure_dataset_files(name: str) -> str:
    """Make ``name``'s files exist (generating synthetic data if needed); return its json.

    Call before building a COCOEvaluator, which reads ``metadata.json_file`` directly.
    """
    if name in _ENSURE_FILES:
        return _ENSURE_FILES[name]()
    # Any other registered COCO-style dataset (coco_2017_val, register_coco_instances, ...).
    json_file = MetadataCatalog.get(name).get("json_file", None) if name in DatasetCatalog.list() else None
    if json_file is None or not os.path.isfile(json_file):
        raise KeyError(
            f"dataset {name!r} is not a vitdet_bench dataset and has no COCO json to evaluate "
            f"against (metadata json_file={json_file!r}); register it with "
            f"register_coco_instances or use one of {sorted(_ENSURE_FILES)}")
    return json_file
