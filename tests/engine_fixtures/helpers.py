"""Helpers importable from engine-test configs (tests/ must be on PYTHONPATH)."""
import json


def first_n(dicts, n):
    return list(dicts)[: int(n)]


def register_coco_json(name: str, json_file: str, image_root: str):
    """Register a COCO instances json under ``name`` the way vitdet_bench's own datasets
    are (checked loader that names bad annotations; COCO metadata for the evaluator).

    Returns the number of classes (the json's categories). Re-registering replaces.
    """
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from vitdet_bench.data import load_coco_json_checked

    with open(json_file, encoding="utf-8") as f:
        categories = sorted(json.load(f)["categories"], key=lambda c: c["id"])
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    DatasetCatalog.register(name, lambda: load_coco_json_checked(json_file, image_root, name))
    MetadataCatalog.get(name).set(
        json_file=json_file, image_root=image_root, evaluator_type="coco",
        thing_classes=[c["name"] for c in categories],
        thing_dataset_id_to_contiguous_id={c["id"]: i for i, c in enumerate(categories)})
    return len(categories)
