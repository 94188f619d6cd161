"""Bad-data corpus: each broken dataset gets a clear message or a counted skip.

Every corruption of tests/data_fixtures.py is applied to a tiny synthetic split and
to coco128 (skipped when absent); for each we check the pre-flight report, and that
a real detectron2 train loader (build_detection_train_loader, batch 2, our mapper)
either yields clean batches with counted skips or stops early with the message.
"""
import copy
import logging

import pytest

from data_fixtures import (  # noqa: F401
    assert_clean_batch,
    coco128_or_skip,
    load_json,
    make_broken_dataset,
    write_json,
)

import vitdet_bench  # noqa: F401
from detectron2.data import MetadataCatalog, build_detection_train_loader
from detectron2.structures import BoxMode
from vitdet_bench.data import (
    AnnotationError,
    DatasetValidationError,
    ImageFileError,
    ImageSizeMismatchError,
    build_lsj_train_mapper,
    drop_images_with_bad_files,
    load_coco_json_checked,
    validate_coco_json,
)
from vitdet_bench.data import validate as V

# corruption -> (report kind, what training does)
#   ("raise", ErrorType, message start)   the mapper stops the loader with the message
#   ("skip", skip kind)                   the annotation is dropped and counted
#   ("load_skip",)                        detectron2's load_coco_json already drops it
#   ("load_raise",)                       loading the dataset raises DatasetValidationError
CASES = {
    "missing_image": (V.MISSING_IMAGE, ("raise", ImageFileError, "Image file missing")),
    "unreadable_image": (V.UNREADABLE_IMAGE, ("raise", ImageFileError, "Unreadable image")),
    "truncated_image": (V.UNREADABLE_IMAGE, ("raise", ImageFileError, "Unreadable image")),
    "size_mismatch": (V.SIZE_MISMATCH, ("raise", ImageSizeMismatchError, "Image size mismatch")),
    "empty_box": (V.INVALID_BOX, ("skip", V.INVALID_BOX)),
    "negative_box": (V.INVALID_BOX, ("skip", V.INVALID_BOX)),
    "polygon_zero_area": (V.DEGENERATE_POLYGON, ("skip", V.DEGENERATE_POLYGON)),
    "missing_segmentation": (V.MISSING_SEGMENTATION, ("skip", V.MISSING_SEGMENTATION)),
    "polygon_two_points": (V.DEGENERATE_POLYGON, ("load_skip",)),
    "unknown_category": (V.UNKNOWN_CATEGORY, ("load_raise",)),
}


@pytest.fixture(params=["synthetic", "coco128"])
def source(request, tiny_shapes):
    """(name, json_file, image_root, LSJ size) of a clean dataset to corrupt."""
    if request.param == "synthetic":
        return "synthetic", tiny_shapes.json_file, tiny_shapes.image_root, 128
    json_file, image_root = coco128_or_skip()
    return "coco128", json_file, image_root, 256


def _loader(dicts, size, num_classes, num_workers=0):
    mapper = build_lsj_train_mapper(size, num_classes=num_classes)
    loader = build_detection_train_loader(dicts, mapper=mapper, total_batch_size=2,
                                          num_workers=num_workers)
    return mapper, loader


def _take(loader, n_batches):
    it = iter(loader)
    return [next(it) for _ in range(n_batches)]


def _broken(source, corruption, tmp_path):
    name, json_file, image_root, size = source
    broken_json, root, broken = make_broken_dataset(json_file, image_root,
                                                    str(tmp_path / "broken"), corruption)
    return name, broken_json, root, size, broken


@pytest.mark.parametrize("corruption", sorted(CASES))
def test_validator_reports_each_problem(source, corruption, tmp_path):
    _, json_file, root, _, broken = _broken(source, corruption, tmp_path)
    kind, _ = CASES[corruption]
    report = validate_coco_json(json_file, root, decode_images=True)
    assert report.count(kind) == 1, report.summary()
    # Nothing else is flagged: no false positives on the clean rest of the data.
    assert set(report.errors) | set(report.warnings) == {kind}, report.summary()
    (problem,) = report.examples[kind]
    assert problem.image_id == broken["image_id"]
    assert f"image id {broken['image_id']}" in problem.message
    if "annotation_id" in broken:
        assert problem.annotation_id == broken["annotation_id"]
        assert f"annotation id {broken['annotation_id']}" in problem.message
    if "file_name" in broken:
        assert broken["file_name"] in problem.message
    assert report.ok == (V.PROBLEM_SEVERITY[kind] != V.ERROR)
    if not report.ok:
        with pytest.raises(DatasetValidationError, match=kind):
            report.raise_if_errors()
    assert kind in report.summary() and report.to_dict()["counts"][kind] == 1


@pytest.mark.parametrize("corruption", sorted(CASES))
def test_train_loader_stops_with_message_or_counts_skip(source, corruption, tmp_path, caplog):
    src_name, json_file, root, size, broken = _broken(source, corruption, tmp_path)
    _, behaviour = CASES[corruption]
    dataset_name = f"broken_{src_name}_{corruption}"
    if behaviour[0] == "load_raise":
        with pytest.raises(DatasetValidationError) as info:
            load_coco_json_checked(json_file, root, dataset_name)
        message = str(info.value)
        assert f"annotation id {broken['annotation_id']}" in message and "999" in message
        assert "unknown_category" in message
        return

    dicts = load_coco_json_checked(json_file, root, dataset_name)
    num_classes = len(MetadataCatalog.get(dataset_name).thing_classes)
    clean_total = len(load_json(json_file)["annotations"])
    if behaviour[0] == "load_skip":
        # detectron2 drops polygons with < 3 points at load time (and logs a count).
        assert sum(len(d["annotations"]) for d in dicts) == clean_total - 1
        mapper, loader = _loader(dicts, size, num_classes)
        for batch in _take(loader, 3):
            assert_clean_batch(batch, size, num_classes)
        return

    if behaviour[0] == "raise":
        _, error_type, message_start = behaviour
        mapper, loader = _loader(dicts, size, num_classes)
        # 4 batches of 2 from 4 images: every image is mapped at least once.
        with pytest.raises(error_type) as info:
            _take(loader, 4)
        message = str(info.value)
        assert message.startswith(message_start)
        assert broken["file_name"] in message and f"image id {broken['image_id']}" in message
        return

    _, skip_kind = behaviour
    with caplog.at_level(logging.WARNING, logger="vitdet_bench.data.mapper"):
        mapper, loader = _loader(dicts, size, num_classes)
        n_instances = sum(assert_clean_batch(b, size, num_classes) for b in _take(loader, 4))
    assert n_instances > 0
    assert mapper.skip_counts[skip_kind] >= 1
    assert set(mapper.skip_counts) == {skip_kind}
    logged = [r.getMessage() for r in caplog.records if skip_kind in r.getMessage()]
    assert logged and f"annotation id {broken['annotation_id']} of image id " \
        f"{broken['image_id']}" in logged[0]
    # Mapping each image exactly once drops exactly the one broken annotation.
    once = build_lsj_train_mapper(size, num_classes=num_classes)
    for d in dicts:
        once(d)
    assert dict(once.skip_counts) == {skip_kind: 1}


def test_worker_process_error_keeps_type_and_message(tiny_shapes, tmp_path):
    src = ("synthetic", tiny_shapes.json_file, tiny_shapes.image_root, 128)
    _, json_file, root, size, broken = _broken(src, "missing_image", tmp_path)
    dicts = load_coco_json_checked(json_file, root, "broken_worker_missing")
    _, loader = _loader(dicts, size, 5, num_workers=1)
    with pytest.raises(ImageFileError, match="Image file missing") as info:
        _take(loader, 4)
    assert broken["file_name"] in str(info.value)


@pytest.mark.parametrize("corruption", ["missing_image", "unreadable_image", "size_mismatch"])
def test_drop_images_with_bad_files_is_a_counted_skip(tiny_shapes, tmp_path, caplog, corruption):
    src = ("synthetic", tiny_shapes.json_file, tiny_shapes.image_root, 128)
    _, json_file, root, size, broken = _broken(src, corruption, tmp_path)
    dicts = load_coco_json_checked(json_file, root, f"broken_drop_{corruption}")
    with caplog.at_level(logging.WARNING, logger="vitdet_bench.data.validate"):
        kept = drop_images_with_bad_files(dicts)
    assert len(kept) == len(dicts) - 1
    assert broken["image_id"] not in {d["image_id"] for d in kept}
    assert any("Dropped 1 of 4 images" in r.getMessage() for r in caplog.records)
    _, loader = _loader(kept, size, 5)
    for batch in _take(loader, 4):
        assert_clean_batch(batch, size, 5)


def test_truncated_image_needs_decode_to_be_found(tiny_shapes, tmp_path):
    src = ("synthetic", tiny_shapes.json_file, tiny_shapes.image_root, 128)
    _, json_file, root, _, _ = _broken(src, "truncated_image", tmp_path)
    assert validate_coco_json(json_file, root).count(V.UNREADABLE_IMAGE) == 0  # header is fine
    assert validate_coco_json(json_file, root, decode_images=True).count(V.UNREADABLE_IMAGE) == 1


def _loaded(tiny_shapes, name="robust_mapper_tiny"):
    return load_coco_json_checked(tiny_shapes.json_file, tiny_shapes.image_root, name)


def test_mapper_drops_degenerate_polygons_in_hand_built_dicts(tiny_shapes):
    """Dicts not made by load_coco_json still get the < 3 point filter."""
    d = copy.deepcopy(_loaded(tiny_shapes)[0])
    good_poly = d["annotations"][0]["segmentation"][0]
    d["annotations"][0]["segmentation"] = [[1.0, 2.0, 3.0, 4.0]]            # only bad
    d["annotations"][1]["segmentation"] = [good_poly, [5.0, 5.0, 6.0, 6.0]]  # one bad, one ok
    mapper = build_lsj_train_mapper(128, num_classes=5)
    out = mapper(d)
    assert mapper.skip_counts[V.DEGENERATE_POLYGON] == 2
    assert len(out["instances"]) <= len(d["annotations"]) - 1
    assert_clean_batch([out], 128, 5)


def test_mapper_all_annotations_bad_gives_empty_instances(tiny_shapes):
    d = copy.deepcopy(_loaded(tiny_shapes)[0])
    for a in d["annotations"]:
        a["bbox"] = [10.0, 10.0, -3.0, 5.0]
    mapper = build_lsj_train_mapper(128, num_classes=5)
    out = mapper(d)
    assert len(out["instances"]) == 0 and len(out["instances"].gt_masks) == 0
    assert mapper.skip_counts[V.INVALID_BOX] == len(d["annotations"])
    # A crowd-only image is the same case (plain DatasetMapper crashes on it under LSJ).
    crowd = copy.deepcopy(_loaded(tiny_shapes)[1])
    for a in crowd["annotations"]:
        a["iscrowd"] = 1
    out = mapper(crowd)
    assert len(out["instances"]) == 0 and out["instances"].has("gt_masks")
    # ... and such an image batches with normal ones.
    _, loader = _loader([d, crowd, _loaded(tiny_shapes)[2]], 128, 5)
    for batch in _take(loader, 3):
        assert_clean_batch(batch, 128, 5)


def test_mapper_rejects_class_index_out_of_range(tiny_shapes):
    d = copy.deepcopy(_loaded(tiny_shapes)[0])
    d["annotations"][0]["category_id"] = 7
    with pytest.raises(AnnotationError, match=r"class index 7, outside \[0, 5\)"):
        build_lsj_train_mapper(128, num_classes=5)(d)
    # Without num_classes the mapper cannot know; it maps without complaint.
    assert "instances" in build_lsj_train_mapper(128)(d)


def test_mapper_rejects_dicts_without_bbox_mode(tiny_shapes):
    d = copy.deepcopy(_loaded(tiny_shapes)[0])
    del d["annotations"][0]["bbox_mode"]
    with pytest.raises(AnnotationError, match="bbox_mode"):
        build_lsj_train_mapper(128)(d)


def test_mapper_checks_xyxy_boxes(tiny_shapes):
    d = copy.deepcopy(_loaded(tiny_shapes)[0])
    a = d["annotations"][0]
    a["bbox_mode"] = BoxMode.XYXY_ABS
    a["bbox"] = [50.0, 50.0, 40.0, 60.0]  # x1 < x0
    mapper = build_lsj_train_mapper(128)
    mapper(d)
    assert mapper.skip_counts[V.INVALID_BOX] == 1


def test_validator_rejects_unreadable_json(tmp_path):
    with pytest.raises(DatasetValidationError, match="not found"):
        validate_coco_json(str(tmp_path / "nope.json"), str(tmp_path))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DatasetValidationError, match="cannot be parsed"):
        validate_coco_json(str(bad), str(tmp_path))
    bad.write_text('{"images": []}')
    with pytest.raises(DatasetValidationError, match="not in COCO instances format"):
        validate_coco_json(str(bad), str(tmp_path))


def test_duplicate_annotation_ids_fail_at_load_with_report(tiny_shapes, tmp_path):
    data = load_json(tiny_shapes.json_file)
    data["annotations"][1]["id"] = data["annotations"][0]["id"]
    json_file = str(tmp_path / "dup.json")
    write_json(json_file, data)
    report = validate_coco_json(json_file, tiny_shapes.image_root)
    assert report.count(V.DUPLICATE_ID) == 1 and not report.ok
    # detectron2 asserts; we re-raise with the report.
    with pytest.raises(DatasetValidationError, match="Duplicate annotation id"):
        load_coco_json_checked(json_file, tiny_shapes.image_root, "broken_dup_ids")


def test_annotation_without_image_and_empty_image_are_reported(tiny_shapes, tmp_path):
    data = load_json(tiny_shapes.json_file)
    first_image = data["images"][0]["id"]
    moved = [a for a in data["annotations"] if a["image_id"] == first_image]
    for a in moved:
        a["image_id"] = 10_000
    json_file = str(tmp_path / "orphans.json")
    write_json(json_file, data)
    report = validate_coco_json(json_file, tiny_shapes.image_root)
    assert report.count(V.ANNOTATION_WITHOUT_IMAGE) == len(moved)
    assert report.count(V.IMAGE_WITHOUT_ANNOTATIONS) == 1
    assert report.ok  # both are things detectron2 handles (warning / filter_empty)


def test_clean_data_validates_clean(tiny_shapes):
    report = validate_coco_json(tiny_shapes.json_file, tiny_shapes.image_root, decode_images=True)
    assert report.ok and not report.warnings and sum(report.counts.values()) == 0
    assert "No problems found." in report.summary()
