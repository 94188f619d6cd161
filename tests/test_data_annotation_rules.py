"""The annotation-drop rule (crowd -> box -> segmentation -> polygons), branch by branch."""
import pytest

from vitdet_bench.data.annotation_rules import (
    DEGENERATE_POLYGON,
    INVALID_BOX,
    MISSING_SEGMENTATION,
    AnnotationVerdict,
    annotation_verdict,
)

SQUARE = [10.0, 10.0, 20.0, 10.0, 20.0, 20.0, 10.0, 20.0]
TWO_POINTS = [10.0, 10.0, 20.0, 20.0]
ON_A_LINE = [0.0, 0.0, 5.0, 5.0, 10.0, 10.0]


def _ann(**fields):
    ann = {"id": 7, "image_id": 3, "category_id": 1, "bbox": [10, 10, 10, 10],
           "segmentation": [SQUARE], "iscrowd": 0}
    ann.update(fields)
    return ann


def test_usable_annotation_is_kept_unchanged():
    ann = _ann()
    verdict = annotation_verdict(ann, masks=True)
    assert verdict == AnnotationVerdict() and verdict.keep and verdict.kind is None
    assert verdict.apply(ann) is ann


def test_crowd_is_kept_whatever_else_is_wrong():
    ann = _ann(iscrowd=1, bbox=[0, 0, -5, 3], segmentation=[])
    verdict = annotation_verdict(ann, masks=True)
    assert verdict.kind is None and verdict.apply(ann) is ann


@pytest.mark.parametrize("bbox, words", [
    ([0, 0, 0, 5], "an empty bbox"),
    ([0, 0, -4, 5], "a negative bbox"),
    ([0, 0, float("nan"), 5], "non-finite"),
    ([0, 0, 5], "3 values instead of 4"),
    (None, "has no bbox"),
    ("abc", "not a list of numbers"),
])
def test_invalid_box_drops_before_anything_else(bbox, words):
    # the segmentation is missing too: the box is looked at first
    verdict = annotation_verdict(_ann(bbox=bbox, segmentation=None), masks=True)
    assert verdict.kind == INVALID_BOX and not verdict.keep
    assert words in verdict.reasons[0]
    assert verdict.apply(_ann()) is None


def test_box_layout_xyxy_and_unchecked():
    # [x0, y0, x1, y1] with x1 < x0 is invalid as XYXY but fine as XYWH
    bbox = [20, 20, 10, 30]
    assert annotation_verdict(_ann(bbox=bbox), masks=False, box_layout="xyxy").kind == INVALID_BOX
    assert annotation_verdict(_ann(bbox=bbox), masks=False, box_layout="xywh").kind is None
    # relative box modes: the box is not checked
    assert annotation_verdict(_ann(bbox=[0, 0, 0, 0]), masks=False, box_layout=None).kind is None
    with pytest.raises(ValueError, match="box_layout"):
        annotation_verdict(_ann(), masks=False, box_layout="cxcywh")


@pytest.mark.parametrize("segmentation", [None, [], {}])
def test_missing_segmentation_drops_only_with_masks(segmentation):
    ann = _ann(segmentation=segmentation)
    verdict = annotation_verdict(ann, masks=True)
    assert verdict.kind == MISSING_SEGMENTATION and not verdict.keep and verdict.reasons == ()
    assert annotation_verdict(ann, masks=False).kind is None  # box-only keeps it


def test_unusable_polygons_are_removed_and_the_rest_kept():
    ann = _ann(segmentation=[TWO_POINTS, SQUARE, ON_A_LINE])
    verdict = annotation_verdict(ann, masks=True)
    assert verdict.kind == DEGENERATE_POLYGON and verdict.keep
    assert verdict.polygons == [SQUARE]
    assert verdict.reasons == ("polygon 0 has 2 point(s); a polygon needs at least 3",
                               "polygon 2 has zero area (all points on one line)")
    cleaned = verdict.apply(ann)
    assert cleaned["segmentation"] == [SQUARE] and cleaned is not ann
    assert ann["segmentation"] == [TWO_POINTS, SQUARE, ON_A_LINE]  # the input is not changed
    # without masks polygons are not looked at
    assert annotation_verdict(ann, masks=False).kind is None


def test_no_usable_polygon_drops_the_annotation():
    verdict = annotation_verdict(_ann(segmentation=[TWO_POINTS, [1, 2, 3]]), masks=True)
    assert verdict.kind == DEGENERATE_POLYGON and not verdict.keep and verdict.polygons is None
    assert verdict.reasons[1] == "polygon 1 has an odd number of coordinates (3)"
    assert verdict.apply(_ann()) is None


def test_rle_segmentation_is_not_a_polygon_problem():
    rle = {"size": [100, 100], "counts": "abc"}
    assert annotation_verdict(_ann(segmentation=rle), masks=True).kind is None


def test_report_and_evaluation_ground_truth_drop_the_same_annotations(tmp_path):
    """validate_coco_json's warnings and evaluable_ground_truth's counts come from the rule."""
    import json

    from vitdet_bench.data.validate import evaluable_ground_truth, validate_coco_json

    anns = [
        _ann(id=1),                                                   # kept
        _ann(id=2, bbox=[0, 0, 0, 4], segmentation=[]),               # box (first) -> dropped
        _ann(id=3, segmentation=None),                                # no mask -> dropped
        _ann(id=4, segmentation=[TWO_POINTS, SQUARE]),                # polygon removed, kept
        _ann(id=5, segmentation=[ON_A_LINE]),                         # no polygon left -> dropped
        _ann(id=6, iscrowd=1, bbox=[0, 0, -1, 1],
             segmentation={"size": [64, 64], "counts": "abc"}),       # crowd -> kept
    ]
    gt = {"images": [{"id": 3, "file_name": "a.jpg", "width": 64, "height": 64}],
          "annotations": anns, "categories": [{"id": 1, "name": "thing"}]}
    json_file = tmp_path / "gt.json"
    json_file.write_text(json.dumps(gt))
    expected = {INVALID_BOX: 1, MISSING_SEGMENTATION: 1, DEGENERATE_POLYGON: 2}

    report = validate_coco_json(str(json_file), str(tmp_path), check_image_files=False)
    assert report.warnings == expected and report.ok, report.summary()

    out_file = tmp_path / "clean.json"
    path, counts = evaluable_ground_truth(str(json_file), str(out_file))
    assert path == str(out_file) and counts == expected
    kept = json.loads(out_file.read_text())["annotations"]
    assert [a["id"] for a in kept] == [1, 4, 6]
    assert kept[1]["segmentation"] == [SQUARE]
    # box-only evaluation keeps what only a mask would drop
    _, box_counts = evaluable_ground_truth(str(json_file), str(tmp_path / "boxes.json"),
                                           masks=False)
    assert box_counts == {INVALID_BOX: 1}
