"""Helpers importable from engine-test configs (tests/ must be on PYTHONPATH)."""
import contextlib
import json
import os


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


@contextlib.contextmanager
def datasets_absent(*names):
    """The COCO datasets ``names`` (e.g. "coco_2017_train") registered, for the duration,
    at paths under $DETECTRON2_DATASETS that do not exist: what a machine without them
    sees, whether or not they are on this one."""
    from detectron2.data import MetadataCatalog

    from vitdet_bench.data import datasets_root

    absent = os.path.join(datasets_root(), "absent-for-this-test")
    saved = {}
    for name in names:
        saved[name] = MetadataCatalog.get(name).as_dict()
        MetadataCatalog.remove(name)
        MetadataCatalog.get(name).set(**{
            **{k: v for k, v in saved[name].items() if k != "name"},
            "json_file": os.path.join(absent, "annotations", f"{name}.json"),
            "image_root": os.path.join(absent, name)})
    try:
        yield
    finally:
        for name, meta in saved.items():
            MetadataCatalog.remove(name)
            MetadataCatalog.get(name).set(**{k: v for k, v in meta.items() if k != "name"})
