"""LVIS registration, repeat factors and the federated loss (against their formulas)."""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
from eval_fixtures import coco128_json, load_json

import vitdet_bench.data  # noqa: F401  (registers, lvis_v1_* included)
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import Boxes, Instances

from vitdet_bench.data.lvis import (class_image_counts, register_lvis_instances, register_lvis_v1,
                                    repeat_factors)
from vitdet_bench.evaluation.lvis_eval import federated_from_coco
from vitdet_bench.modeling.fed_loss import (FederatedFastRCNNOutputLayers, box_predictor_class,
                                            get_fed_loss_classes, get_fed_loss_cls_weights,
                                            has_upstream_fed_loss)


def coco128_lvis(tmp_path, name="lvis_test_coco128"):
    path = coco128_json()
    lv = federated_from_coco(load_json(path), seed=0, p_neg=0.1)
    out = os.path.join(str(tmp_path), "lvis_coco128.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(lv, f)
    # coco_url .../train2017/x.jpg under the folder holding train2017 (coco128/)
    register_lvis_instances(name, out, os.path.dirname(os.path.dirname(path)), overwrite=True)
    return lv, name


def test_lvis_v1_registered_with_frequencies():
    meta = MetadataCatalog.get("lvis_v1_val")
    assert meta.evaluator_type == "lvis"
    assert len(meta.thing_classes) == 1203
    # LVIS v1: 337 rare, 461 common, 405 frequent categories (Gupta et al., lvisdataset.org)
    assert [meta.class_frequency.count(f) for f in "rcf"] == [337, 461, 405]
    assert meta.thing_dataset_id_to_contiguous_id[1] == 0


def test_missing_lvis_is_one_clear_paragraph(tmp_path):
    register_lvis_v1(root=str(tmp_path), overwrite=True)
    try:
        with pytest.raises(FileNotFoundError) as e:
            DatasetCatalog.get("lvis_v1_train")
        msg = str(e.value)
        assert os.path.join(str(tmp_path), "lvis", "lvis_v1_train.json") in msg
        assert "DETECTRON2_DATASETS" in msg and "coco/train2017" in msg and "\n" not in msg
    finally:
        register_lvis_v1(overwrite=True)


def test_lvis_split_loads_with_federated_lists(tmp_path):
    lv, name = coco128_lvis(tmp_path)
    dicts = DatasetCatalog.get(name)
    assert len(dicts) == len(lv["images"])
    assert all(os.path.isfile(d["file_name"]) for d in dicts[:5])
    by_id = {im["id"]: im for im in lv["images"]}
    for d in dicts:
        assert d["neg_category_ids"] == by_id[d["image_id"]]["neg_category_ids"]
    meta = MetadataCatalog.get(name)
    assert meta.evaluator_type == "lvis"
    assert set(meta.class_frequency) == {"r", "c", "f"}
    cats = sorted(lv["categories"], key=lambda c: c["id"])
    assert class_image_counts(name) == [c["image_count"] for c in cats]
    k = meta.thing_dataset_id_to_contiguous_id
    n_ann = sum(len(d["annotations"]) for d in dicts)
    assert n_ann == len(lv["annotations"])
    a0 = next(a for a in lv["annotations"] if a["image_id"] == dicts[0]["image_id"])
    assert dicts[0]["annotations"][0]["category_id"] == k[a0["category_id"]]


def test_repeat_factors_follow_the_formula(tmp_path):
    _, name = coco128_lvis(tmp_path)
    dicts = DatasetCatalog.get(name)
    t = 0.3                                          # coco128 is small: a threshold that bites
    got = repeat_factors(dicts, t).numpy()
    n = len(dicts)
    img_cats = [{a["category_id"] for a in d["annotations"]} for d in dicts]
    freq = {}
    for s in img_cats:
        for c in s:
            freq[c] = freq.get(c, 0) + 1
    expect = [max([1.0] + [max(1.0, math.sqrt(t / (freq[c] / n))) for c in s]) for s in img_cats]
    np.testing.assert_allclose(got, expect, rtol=1e-6)
    assert got.max() > 1.5 and got.min() == 1.0


# ---------------------------------------------------------------- federated loss
def test_feature_check_picks_upstream_when_present():
    assert not has_upstream_fed_loss()                # detectron2 0.6 lacks it
    assert box_predictor_class() is FederatedFastRCNNOutputLayers

    class Upstream:                                     # detectron2 main's signature
        def __init__(self, input_shape, *, use_fed_loss=False, use_sigmoid_ce=False):
            pass

    assert box_predictor_class(Upstream) is Upstream   # used as is, nothing patched


def test_fed_loss_classes_sampling_follows_weights():
    weight = torch.tensor([1.0, 4.0, 0.0, 9.0, 1.0, 25.0]) ** 0.5
    gt = torch.tensor([0, 0, 6, 6])                     # class 0 + background (6)
    classes = get_fed_loss_classes(gt, 4, 6, weight)
    assert set(classes[:2].tolist()) == {0, 6} and len(set(classes.tolist())) == 4
    assert 2 not in classes.tolist()                    # zero weight: never drawn
    # one negative drawn: P(c) = w_c / sum of the weights of the non-positive classes
    torch.manual_seed(0)
    draws = torch.stack([get_fed_loss_classes(gt, 3, 6, weight)[-1] for _ in range(6000)])
    freq = torch.bincount(draws, minlength=6).float() / len(draws)
    p = weight.clone()
    p[0] = 0
    p = p / p.sum()
    assert torch.allclose(freq, p, atol=0.02), (freq, p)
    many = torch.arange(7)                              # as many positives as the budget
    assert get_fed_loss_classes(many, 5, 6, weight).tolist() == many.tolist()


def _predictor(num_classes, weights, **kw):
    from detectron2.layers import ShapeSpec
    from detectron2.modeling.box_regression import Box2BoxTransform

    return FederatedFastRCNNOutputLayers(
        ShapeSpec(channels=8), box2box_transform=Box2BoxTransform((10, 10, 5, 5)),
        num_classes=num_classes, use_sigmoid_ce=True, use_fed_loss=True,
        get_fed_loss_cls_weights=lambda: weights, **kw)


def test_fed_loss_equals_the_formula():
    torch.manual_seed(0)
    k = 12
    weights = torch.rand(k) * 10 + 0.1
    pred = _predictor(k, weights, fed_loss_num_classes=5)
    feats = torch.randn(7, 8)
    gt_classes = torch.tensor([3, 3, 12, 7, 12, 12, 1])
    inst = Instances((64, 64))
    inst.proposal_boxes = Boxes(torch.tensor([[1.0, 1, 20, 20]]).repeat(7, 1))
    inst.gt_boxes = Boxes(torch.tensor([[2.0, 2, 22, 21]]).repeat(7, 1))
    inst.gt_classes = gt_classes
    scores, deltas = pred(feats)
    from detectron2.utils.events import EventStorage

    torch.manual_seed(123)
    with EventStorage():
        loss = pred.losses((scores, deltas), [inst])["loss_cls"]
    torch.manual_seed(123)                            # the same draw, by hand
    classes = get_fed_loss_classes(gt_classes, 5, k, pred.fed_loss_cls_weights)
    used = sorted(c for c in set(classes.tolist()) if c < k)
    assert {1, 3, 7} <= set(used) and len(used) == 4  # 3 positives + background + 1 negative
    expect = 0.0
    for i in range(7):
        for c in used:
            y = 1.0 if gt_classes[i] == c else 0.0
            z = scores[i, c]
            expect = expect - (y * torch.log(torch.sigmoid(z)) + (1 - y) * torch.log(1 - torch.sigmoid(z)))
    expect = expect / 7
    assert torch.allclose(loss, expect, atol=1e-5), (loss, expect)
    # inference: sigmoid probabilities
    probs = pred.predict_probs((scores, deltas), [inst])[0]
    assert torch.allclose(probs, scores.sigmoid())


def test_fed_loss_weights_from_the_training_set(tmp_path):
    lv, name = coco128_lvis(tmp_path, "lvis_test_weights")
    w = get_fed_loss_cls_weights(name, 0.5)
    cats = sorted(lv["categories"], key=lambda c: c["id"])
    assert torch.allclose(w, torch.tensor([c["image_count"] for c in cats]).float() ** 0.5)
    with pytest.raises(ValueError, match="use_sigmoid_ce"):
        from detectron2.layers import ShapeSpec
        from detectron2.modeling.box_regression import Box2BoxTransform

        FederatedFastRCNNOutputLayers(ShapeSpec(channels=8),
                                      box2box_transform=Box2BoxTransform((1, 1, 1, 1)),
                                      num_classes=3, use_fed_loss=True,
                                      get_fed_loss_cls_weights=lambda: torch.ones(3))


def test_repeat_factor_sampler_repeats_and_resumes():
    import itertools

    from vitdet_bench.data.lvis import repeat_factor_sampler

    factors = [1.0, 3.0, 1.5, 1.0]
    take = lambda s, n: list(itertools.islice(iter(s), n))  # noqa: E731
    stream = take(repeat_factor_sampler(factors, seed=3, rank=0, world_size=1), 13000)
    idx = np.array([i for _, i in stream])
    share = np.bincount(idx, minlength=4) / len(idx)
    expect = np.array(factors) / sum(factors)
    np.testing.assert_allclose(share, expect, atol=0.01)
    assert [p for p, _ in stream[:5]] == [0, 1, 2, 3, 4]
    # resuming at position 100 continues the same stream; ranks split it
    assert take(repeat_factor_sampler(factors, 3, start=100, rank=0, world_size=1), 5) == stream[100:105]
    r1 = take(repeat_factor_sampler(factors, 3, rank=1, world_size=2), 5)
    assert [i for _, i in r1] == [i for _, i in stream[1:11:2]]
