"""Synthetic shapes generator: determinism, mask/box consistency, occlusion, cache safety."""
import dataclasses
import multiprocessing
import os

import numpy as np
import pytest

from data_fixtures import TINY_CONFIG, load_json

import vitdet_bench  # noqa: F401
import pycocotools.mask as mask_util
import shapely.geometry as sg
from vitdet_bench.data.synthetic_shapes import (
    GENERATOR_VERSION,
    SHAPE_CLASSES,
    SyntheticShapesConfig,
    ensure_synthetic_split,
    render_image,
    split_files,
)


def _read_tree(folder):
    out = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = f.read()
    return out


def _bitmask(segmentation, size):
    rles = mask_util.frPyObjects(segmentation, size, size)
    return mask_util.decode(mask_util.merge(rles)).astype(bool)


def test_same_seed_gives_identical_bytes(tmp_path):
    a = ensure_synthetic_split(TINY_CONFIG, str(tmp_path / "a"))
    b = ensure_synthetic_split(TINY_CONFIG, str(tmp_path / "b"))
    tree_a, tree_b = _read_tree(a.folder), _read_tree(b.folder)
    assert len(tree_a) == TINY_CONFIG.num_images + 1  # images + json
    assert tree_a == tree_b


def test_seed_and_split_change_the_data():
    img0, inst0 = render_image(TINY_CONFIG, 0)
    img_seed, _ = render_image(dataclasses.replace(TINY_CONFIG, seed=8), 0)
    img_split, _ = render_image(dataclasses.replace(TINY_CONFIG, split="other"), 0)
    assert not np.array_equal(img0, img_seed)
    assert not np.array_equal(img0, img_split)
    # Image i does not depend on how many images the split has.
    img_more, inst_more = render_image(dataclasses.replace(TINY_CONFIG, num_images=50), 0)
    assert np.array_equal(img0, img_more) and inst0 == inst_more


def test_coco_json_structure(tiny_shapes):
    data = load_json(tiny_shapes.json_file)
    assert [c["name"] for c in data["categories"]] == list(SHAPE_CLASSES)
    assert [c["id"] for c in data["categories"]] == list(range(1, len(SHAPE_CLASSES) + 1))
    assert len(data["images"]) == TINY_CONFIG.num_images
    assert data["info"]["generator_version"] == GENERATOR_VERSION
    ids = [a["id"] for a in data["annotations"]]
    assert len(ids) == len(set(ids))
    per_image = {i["id"]: 0 for i in data["images"]}
    for a in data["annotations"]:
        per_image[a["image_id"]] += 1
        assert a["iscrowd"] == 0
        assert 1 <= a["category_id"] <= len(SHAPE_CLASSES)
    assert all(TINY_CONFIG.min_objects <= n <= TINY_CONFIG.max_objects for n in per_image.values())
    for img in data["images"]:
        assert os.path.isfile(os.path.join(tiny_shapes.image_root, img["file_name"]))
        assert img["width"] == img["height"] == TINY_CONFIG.image_size


def test_polygons_valid_and_boxes_match_masks():
    cfg = SyntheticShapesConfig(split="check", num_images=30, image_size=160, seed=3)
    size = cfg.image_size
    n_checked = 0
    for index in range(cfg.num_images):
        _, instances = render_image(cfg, index)
        for inst in instances:
            assert inst["segmentation"], inst
            for poly in inst["segmentation"]:
                assert len(poly) >= 6 and len(poly) % 2 == 0
                xy = np.asarray(poly).reshape(-1, 2)
                assert xy.min() >= 0 and xy.max() <= size
                shape = sg.Polygon(xy)
                assert shape.is_valid and shape.area > 0
            # The box is the polygons' bounds ...
            xy = np.concatenate([np.asarray(p).reshape(-1, 2) for p in inst["segmentation"]])
            x, y, w, h = inst["bbox"]
            np.testing.assert_allclose([x, y, x + w, y + h],
                                       [*xy.min(axis=0), *xy.max(axis=0)], atol=0.011)
            # ... and agrees with the rasterised mask within 1 px.
            mask = _bitmask(inst["segmentation"], size)
            ys, xs = np.nonzero(mask)
            assert abs(xs.min() - x) <= 1 and abs(ys.min() - y) <= 1
            assert abs(xs.max() + 1 - (x + w)) <= 1 and abs(ys.max() + 1 - (y + h)) <= 1
            # The recorded area is the polygon area; the raster differs only on the boundary.
            perimeter = sum(sg.Polygon(np.asarray(p).reshape(-1, 2)).length
                            for p in inst["segmentation"])
            assert abs(mask.sum() - inst["area"]) <= 0.5 * perimeter + 2
            n_checked += 1
    assert n_checked > 2 * cfg.num_images


def test_occlusion_is_reflected_in_masks():
    """Visible masks of one image do not overlap, and occlusion does happen."""
    cfg = SyntheticShapesConfig(split="occl", num_images=40, image_size=128, seed=1,
                                min_objects=4, max_objects=6)
    occluded = 0
    for index in range(cfg.num_images):
        image, instances = render_image(cfg, index)
        masks = [_bitmask(i["segmentation"], cfg.image_size) for i in instances]
        for i in range(len(masks)):
            for j in range(i + 1, len(masks)):
                inter = np.logical_and(masks[i], masks[j]).sum()
                # Only boundary pixels may be shared (rasterisation of a common edge).
                assert inter <= 0.1 * min(masks[i].sum(), masks[j].sum()) + 2
        # An occluded object shares part of its outline with the object on top of it.
        shapes = [sg.MultiPolygon([sg.Polygon(np.asarray(p).reshape(-1, 2))
                                   for p in i["segmentation"]]) for i in instances]
        for i in range(len(shapes)):
            for j in range(i + 1, len(shapes)):
                if shapes[i].buffer(0.5).intersection(shapes[j]).area > 2.0:
                    occluded += 1
    assert occluded > 0


def test_visible_fraction_respects_max_occlusion():
    # With no occlusion allowed, no visible mask may be cut by another object: every
    # instance is a single polygon equal to its full shape, so masks never touch.
    cfg = SyntheticShapesConfig(split="noocc", num_images=10, image_size=128,
                                max_occluded_fraction=0.0, min_objects=3, max_objects=4)
    for index in range(cfg.num_images):
        _, instances = render_image(cfg, index)
        shapes = [sg.Polygon(np.asarray(i["segmentation"][0]).reshape(-1, 2)) for i in instances]
        assert all(len(i["segmentation"]) == 1 for i in instances)
        for a in range(len(shapes)):
            for b in range(a + 1, len(shapes)):
                assert shapes[a].intersection(shapes[b]).area < 1e-6


def test_cache_reuses_and_param_change_regenerates(tmp_path):
    root = str(tmp_path)
    first = ensure_synthetic_split(TINY_CONFIG, root)
    mtime = os.path.getmtime(first.json_file)
    again = ensure_synthetic_split(TINY_CONFIG, root)
    assert again == first and os.path.getmtime(first.json_file) == mtime
    changed = dataclasses.replace(TINY_CONFIG, max_objects=3)
    other = ensure_synthetic_split(changed, root)
    assert other.folder != first.folder
    assert f"-v{GENERATOR_VERSION}-" in os.path.basename(other.folder)
    assert load_json(other.json_file)["info"]["config"]["max_objects"] == 3
    # No temporary folders are left behind.
    leftovers = [n for n in os.listdir(os.path.dirname(first.folder)) if ".tmp-" in n]
    assert leftovers == []


def test_cache_dir_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("VITDET_BENCH_CACHE", str(tmp_path / "envcache"))
    assert split_files(TINY_CONFIG).folder.startswith(str(tmp_path / "envcache"))


def test_incomplete_folder_is_not_taken_as_done(tmp_path):
    target = split_files(TINY_CONFIG, str(tmp_path))
    os.makedirs(target.image_root)  # a half-made folder without its json
    with pytest.raises(RuntimeError, match="exists but has no annotations.json"):
        ensure_synthetic_split(TINY_CONFIG, str(tmp_path))


def _generate_in_child(root, queue):
    queue.put(ensure_synthetic_split(TINY_CONFIG, root).json_file)


def test_concurrent_generation_is_safe(tmp_path):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_generate_in_child, args=(str(tmp_path), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    paths = {queue.get(timeout=5) for _ in procs}
    assert len(paths) == 1
    data = load_json(paths.pop())
    assert len(data["images"]) == TINY_CONFIG.num_images
    parent = os.path.dirname(split_files(TINY_CONFIG, str(tmp_path)).folder)
    assert [n for n in os.listdir(parent) if ".tmp-" in n] == []


def test_config_rejects_bad_parameters():
    with pytest.raises(ValueError, match="unknown shape"):
        SyntheticShapesConfig(classes=("circle", "hexagon"))
    with pytest.raises(ValueError, match="min_objects"):
        SyntheticShapesConfig(min_objects=4, max_objects=2)


def test_masks_align_with_painted_pixels():
    """Pixels just inside a mask differ from pixels just outside it: masks sit on the objects.

    Catches x/y swaps, offsets or scale bugs between rendering and annotation, which
    would put the mask boundary over uniform regions.
    """
    import cv2

    cfg = SyntheticShapesConfig(split="align", num_images=15, image_size=128, seed=5)
    kernel = np.ones((5, 5), np.uint8)
    contrasts = []
    for index in range(cfg.num_images):
        image, instances = render_image(cfg, index)
        image = cv2.GaussianBlur(image.astype(np.float32), (3, 3), 0)  # tame pixel noise
        for inst in instances:
            mask = _bitmask(inst["segmentation"], cfg.image_size).astype(np.uint8)
            inside = cv2.erode(mask, kernel).astype(bool)
            outside = cv2.dilate(mask, kernel).astype(bool) & ~mask.astype(bool)
            if inside.sum() < 10 or outside.sum() < 10:
                continue
            # Local contrast across the boundary, per pixel pair, averaged.
            contrasts.append(np.linalg.norm(image[inside].mean(0) - image[outside].mean(0)))
            # The inside of a true mask is one shaded object (low spread); a mask
            # shifted by 4 px already straddles two regions (spread > 40).
            assert image[inside].std(0).mean() < 20
    contrasts = np.asarray(contrasts)
    assert len(contrasts) > 30
    assert np.median(contrasts) > 60
