"""LSJ augmentation and mappers: fixed padded crops, masks and boxes kept consistent."""

import numpy as np
import pytest
import torch

from data_fixtures import coco128_or_skip

import vitdet_bench  # noqa: F401
from detectron2.config import LazyCall as L
from detectron2.config import instantiate
from detectron2.data import DatasetCatalog
from detectron2.data import transforms as T
from vitdet_bench.data import (
    RobustDatasetMapper,
    build_lsj_augmentations,
    build_lsj_train_mapper,
    build_test_augmentations,
    build_test_mapper,
    load_coco_json_checked,
)


def _assert_instances_consistent(out, image_size):
    inst = out["instances"]
    boxes = inst.gt_boxes.tensor
    # recompute_boxes: the boxes are the tight bounds of the (cropped) polygons.
    torch.testing.assert_close(boxes, inst.gt_masks.get_bounding_boxes().tensor)
    assert bool((boxes >= 0).all()) and bool((boxes <= image_size).all())
    assert bool(((boxes[:, 2:] - boxes[:, :2]) > 0).all())
    for polys in inst.gt_masks.polygons:
        assert polys and all(len(p) >= 6 for p in polys)
        for p in polys:
            assert p.min() >= -1e-3 and p.max() <= image_size + 1e-3


def test_lsj_augmentation_list():
    augs = build_lsj_augmentations(image_size=512, min_scale=0.2, max_scale=1.5)
    assert [type(a) for a in augs] == [T.RandomFlip, T.ResizeScale, T.FixedSizeCrop]
    assert augs[0].horizontal and not augs[0].vertical
    assert (augs[1].min_scale, augs[1].max_scale) == (0.2, 1.5)
    assert (augs[1].target_height, augs[1].target_width) == (512, 512)
    assert augs[2].crop_size == (512, 512) and augs[2].pad
    assert [type(a) for a in build_lsj_augmentations(random_flip=None)] == [
        T.ResizeScale, T.FixedSizeCrop]
    assert build_lsj_augmentations(random_flip="vertical")[0].vertical
    with pytest.raises(ValueError, match="random_flip"):
        build_lsj_augmentations(random_flip="diagonal")
    with pytest.raises(ValueError, match="min_scale"):
        build_lsj_augmentations(min_scale=2.0, max_scale=1.0)
    (test_aug,) = build_test_augmentations(800)
    assert isinstance(test_aug, T.ResizeShortestEdge)
    assert test_aug.short_edge_length == (800, 800) and test_aug.max_size == 800


@pytest.mark.parametrize("scale", [0.3, 1.8])
def test_lsj_on_coco128_gives_fixed_size_crops(scale):
    """scale 0.3: the rescaled image is small and padded; 1.8: it is large and cropped."""
    coco128_or_skip()
    dicts = DatasetCatalog.get("coco128_train")[:4]
    size = 1024
    mapper = build_lsj_train_mapper(size, min_scale=scale, max_scale=scale)
    np.random.seed(0)
    for d in dicts:
        out = mapper(d)
        assert tuple(out["image"].shape) == (3, size, size)
        assert out["image"].dtype == torch.uint8
        _assert_instances_consistent(out, size)
        if scale < 1:
            # Fit into 0.3 * 1024 = 307 px, then pad right/bottom with 128.
            assert max(out["image"].shape[1:]) == size
            assert bool((out["image"][:, -1, :] == 128).all())
            assert bool((out["image"][:, :, -1] == 128).all())
            assert len(out["instances"]) > 0
        # Crowd annotations are never training targets.
        assert len(out["instances"]) <= sum(1 for a in d["annotations"] if not a["iscrowd"])


def test_lsj_crop_clips_polygons_and_drops_cropped_out_objects():
    coco128_or_skip()
    dicts = [d for d in DatasetCatalog.get("coco128_train")[:20] if len(d["annotations"]) >= 5]
    mapper = build_lsj_train_mapper(256, min_scale=2.0, max_scale=2.0)  # 8x zoom: big crops
    np.random.seed(1)
    kept, total = 0, 0
    for d in dicts:
        out = mapper(d)
        _assert_instances_consistent(out, 256)
        kept += len(out["instances"])
        total += sum(1 for a in d["annotations"] if not a["iscrowd"])
    assert 0 < kept < total  # some objects fall outside the crops and are filtered


def test_image_format_rgb_vs_bgr(tiny_shapes):
    dicts = load_coco_json_checked(tiny_shapes.json_file, tiny_shapes.image_root, "lsj_tiny")
    outs = {}
    for fmt in ("RGB", "BGR"):
        # Scale fixed and < 1: no random crop offset, no flip, so both runs align.
        mapper = build_lsj_train_mapper(128, image_format=fmt, min_scale=0.5, max_scale=0.5,
                                        random_flip=None)
        outs[fmt] = mapper(dicts[0])["image"]
    assert torch.equal(outs["RGB"], outs["BGR"].flip(0))
    assert not torch.equal(outs["RGB"], outs["BGR"])


def test_lsj_on_synthetic_keeps_masks_and_boxes_consistent(tiny_shapes):
    dicts = load_coco_json_checked(tiny_shapes.json_file, tiny_shapes.image_root, "lsj_tiny")
    mapper = build_lsj_train_mapper(128, min_scale=0.5, max_scale=2.0, num_classes=5)
    np.random.seed(2)
    for d in dicts:
        out = mapper(d)
        assert tuple(out["image"].shape) == (3, 128, 128)
        _assert_instances_consistent(out, 128)


def test_test_mapper_resizes_longest_side(tiny_shapes):
    coco_json, coco_root = coco128_or_skip()
    d = DatasetCatalog.get("coco128_train")[0]  # 640x480
    out = build_test_mapper(512)(d)
    assert max(out["image"].shape[1:]) == 512
    assert out["image"].shape[1] / out["image"].shape[2] == pytest.approx(
        d["height"] / d["width"], abs=0.01)
    assert "instances" not in out and "annotations" not in out
    assert (out["height"], out["width"]) == (d["height"], d["width"])  # for output rescale


def test_mappers_instantiate_from_lazyconfig(tiny_shapes):
    train = instantiate(L(build_lsj_train_mapper)(image_size=128, image_format="BGR"))
    assert isinstance(train, RobustDatasetMapper) and train.is_train
    assert train.recompute_boxes and train.use_instance_mask and train.image_format == "BGR"
    explicit = instantiate(L(RobustDatasetMapper)(
        is_train=True,
        augmentations=L(build_lsj_augmentations)(image_size=128),
        image_format="RGB",
        use_instance_mask=True,
        recompute_boxes=True,
    ))
    d = load_coco_json_checked(tiny_shapes.json_file, tiny_shapes.image_root, "lsj_tiny")[0]
    assert tuple(explicit(d)["image"].shape) == (3, 128, 128)
    test = instantiate(L(build_test_mapper)(image_size=128))
    assert not test.is_train
