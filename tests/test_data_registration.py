"""Dataset registration: names, metadata, lazy generation, coco128."""
import os

import pytest

from data_fixtures import TINY_CONFIG, coco128_or_skip, load_json

import vitdet_bench  # noqa: F401
import vitdet_bench.data as vdata
from detectron2.data import DatasetCatalog, MetadataCatalog
from vitdet_bench.data.synthetic_shapes import SHAPE_CLASSES

ALL_NAMES = ("shapes_train", "shapes_val", "coco128_train", "coco128_val", "coco128_first16")


@pytest.fixture
def restore_coco128_registration():
    yield
    vdata.register_coco128(overwrite=True)


@pytest.fixture
def tiny_registered(tmp_path):
    name = "test_shapes_tiny_registration"
    vdata.register_synthetic_shapes(name, TINY_CONFIG, cache_root=str(tmp_path), overwrite=True)
    yield name
    DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)


def test_all_names_registered_with_coco_metadata():
    for name in ALL_NAMES:
        assert name in DatasetCatalog.list(), name
        meta = MetadataCatalog.get(name)
        assert meta.evaluator_type == "coco"
        assert meta.json_file.endswith(".json") and meta.image_root
        assert len(meta.thing_classes) == len(meta.thing_dataset_id_to_contiguous_id)
        assert sorted(meta.thing_dataset_id_to_contiguous_id.values()) == list(
            range(len(meta.thing_classes)))
    assert MetadataCatalog.get("shapes_train").thing_classes == list(SHAPE_CLASSES)
    assert len(MetadataCatalog.get("coco128_train").thing_classes) == 80
    sizes = {n: MetadataCatalog.get(n).synthetic_config["num_images"]
             for n in ("shapes_train", "shapes_val")}
    assert sizes == {"shapes_train": 600, "shapes_val": 100}


def test_register_all_is_idempotent():
    before = {n: MetadataCatalog.get(n).json_file for n in ALL_NAMES}
    vdata.register_all()
    vdata.register_all()
    assert {n: MetadataCatalog.get(n).json_file for n in ALL_NAMES} == before


def test_registration_generates_nothing_until_used(tiny_registered, tmp_path):
    meta = MetadataCatalog.get(tiny_registered)
    assert meta.json_file.startswith(str(tmp_path))
    assert not os.path.exists(meta.json_file)
    assert not os.path.exists(meta.image_root)

    dicts = DatasetCatalog.get(tiny_registered)
    assert os.path.isfile(meta.json_file)
    data = load_json(meta.json_file)
    assert len(dicts) == TINY_CONFIG.num_images
    assert sum(len(d["annotations"]) for d in dicts) == len(data["annotations"])
    for d in dicts:
        assert os.path.isfile(d["file_name"])
        assert d["file_name"].startswith(meta.image_root)
        for a in d["annotations"]:
            assert 0 <= a["category_id"] < len(SHAPE_CLASSES)  # contiguous indices
            assert "id" in a  # kept so that messages can name the annotation


def test_ensure_dataset_files(tiny_registered):
    json_file = vdata.ensure_dataset_files(tiny_registered)
    assert json_file == MetadataCatalog.get(tiny_registered).json_file
    assert os.path.isfile(json_file)
    with pytest.raises(KeyError, match="not a vitdet_bench dataset"):
        vdata.ensure_dataset_files("no_such_dataset")


def test_coco_evaluator_can_be_built_after_ensure(tiny_registered, tmp_path):
    from detectron2.evaluation import COCOEvaluator

    vdata.ensure_dataset_files(tiny_registered)
    evaluator = COCOEvaluator(tiny_registered, output_dir=str(tmp_path / "eval"),
                              use_fast_impl=False)
    assert len(evaluator._coco_api.getImgIds()) == TINY_CONFIG.num_images


def test_coco128_loads_all_images_and_instances():
    json_file, image_root = coco128_or_skip()
    dicts = DatasetCatalog.get("coco128_train")
    assert len(dicts) == 128
    assert sum(len(d["annotations"]) for d in dicts) == 939
    assert sum(a.get("iscrowd", 0) for d in dicts for a in d["annotations"]) == 10
    assert all(os.path.isfile(d["file_name"]) for d in dicts)
    # The metadata set at registration (from detectron2's builtin COCO metadata) is
    # exactly what the json declares.
    cats = sorted(load_json(json_file)["categories"], key=lambda c: c["id"])
    meta = MetadataCatalog.get("coco128_train")
    assert meta.thing_classes == [c["name"] for c in cats]
    assert list(meta.thing_dataset_id_to_contiguous_id) == [c["id"] for c in cats]

    val = DatasetCatalog.get("coco128_val")
    assert [d["image_id"] for d in val] == [d["image_id"] for d in dicts]
    first16 = DatasetCatalog.get("coco128_first16")
    assert [d["image_id"] for d in first16] == sorted(d["image_id"] for d in dicts)[:16]


def test_missing_coco128_raises_clear_error(tmp_path, restore_coco128_registration):
    vdata.register_coco128(root=str(tmp_path), overwrite=True)
    expected = os.path.join(str(tmp_path), "coco128", "annotations", "instances_train2017.json")
    assert MetadataCatalog.get("coco128_train").json_file == expected
    for name in ("coco128_train", "coco128_first16"):
        with pytest.raises(FileNotFoundError) as info:
            DatasetCatalog.get(name)
        message = str(info.value)
        assert expected in message and "DETECTRON2_DATASETS" in message and name in message
    with pytest.raises(FileNotFoundError, match="DETECTRON2_DATASETS"):
        vdata.ensure_dataset_files("coco128_val")


def test_datasets_root_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("DETECTRON2_DATASETS", str(tmp_path))
    json_file, image_root = vdata.coco128_paths()
    assert json_file == os.path.join(str(tmp_path), "coco128", "annotations",
                                     "instances_train2017.json")
    assert image_root == os.path.join(str(tmp_path), "coco128", "train2017")


def test_ensure_dataset_files_accepts_any_registered_coco_dataset(tmp_path):
    from detectron2.data.datasets import register_coco_instances

    gt = tmp_path / "gt.json"
    gt.write_text('{"images": [], "annotations": [], "categories": [{"id": 1, "name": "a"}]}')
    name = "test_plain_coco_registration"
    if name not in DatasetCatalog.list():
        register_coco_instances(name, {}, str(gt), str(tmp_path))
    assert vdata.ensure_dataset_files(name) == str(gt)
