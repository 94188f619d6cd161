"""Alpha-VL ConvMAE evaluation details (projects/ConvMAE/convmae/evaluation.py)."""
import os

import numpy as np
import torch
from PIL import Image

import vitdet_bench  # noqa: F401
from detectron2.config import LazyConfig
from detectron2.structures import Boxes, Instances

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from convmae.evaluation import (PaddedInputRCNN, build_padded_test_mapper,  # noqa: E402
                                postprocess_padded)


def test_mapper_pads_with_128_before_normalization(tmp_path):
    img = np.random.RandomState(0).randint(0, 255, (60, 100, 3), dtype=np.uint8)
    path = str(tmp_path / "a.png")
    Image.fromarray(img).save(path)
    out = build_padded_test_mapper(128)(dict(file_name=path, height=60, width=100, image_id=1))
    t = out["image"]
    assert tuple(t.shape) == (3, 128, 128)
    assert (t[:, 77:, :] == 128).all()  # 60 * 1.28 = 76.8 -> 77 rows of image, then padding
    assert (t[:, :77, :] != 128).any()
    assert (out["height"], out["width"]) == (60, 100)


def test_outputs_are_scaled_back_by_the_longer_side():
    r = Instances((128, 128))
    r.pred_boxes = Boxes(torch.tensor([[0.0, 0.0, 128.0, 76.8], [64.0, 32.0, 96.0, 48.0]]))
    r.scores = torch.tensor([0.9, 0.8])
    r.pred_classes = torch.tensor([0, 1])
    got = postprocess_padded(r, 60, 100)
    assert got.image_size == (60, 100)
    torch.testing.assert_close(got.pred_boxes.tensor,
                               torch.tensor([[0.0, 0.0, 100.0, 60.0], [50.0, 25.0, 75.0, 37.5]]))


def test_design_configs_evaluate_as_their_sources():
    d1 = LazyConfig.load(os.path.join(ROOT, "projects/ConvMAE/configs/convmae_b_mrcnn_25ep.py"))
    assert "PaddedInputRCNN" in str(d1.model._target_) or d1.model._target_ is PaddedInputRCNN
    assert d1.dataloader.test.mapper.pad_value == 128.0
    d2 = LazyConfig.load(os.path.join(ROOT, "projects/ConvMAE/configs/convmae_b_vitdet_mrcnn_25ep.py"))
    assert "PaddedInputRCNN" not in str(d2.model._target_)
    assert "pad_value" not in d2.dataloader.test.mapper
