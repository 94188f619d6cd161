"""Released fine-tuned detectors load whole and evaluate (--eval-only) as published.

The files are written here, from random weights, in the exact layouts of the public ones:
detectron2's model-zoo ViTDet ``model_final_*.pkl`` (backbone from the re-implementation of
upstream's ViT + SimpleFeaturePyramid in tools/reference_vitdet.py, named as upstream's
modules name their tensors) and Alpha-VL's ConvMAE detector.
"""
import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn

import vitdet_bench  # noqa: F401
from detectron2.config import LazyConfig, instantiate

from vitdet_bench.checkpoint import CheckpointError, load_pretrained
from vitdet_bench.layers.attention import relative_position_index

from checkpoint_fixtures import randomize
from engine_fixtures.cli_runner import cli_env, run_cli_cases

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from reference_vitdet import ReferenceSimpleFeaturePyramid, ReferenceViT  # noqa: E402

TINY_VITDET = os.path.join(ROOT, "tests", "engine_fixtures", "tiny_vitdet.py")
TINY_CONVMAE = os.path.join(ROOT, "projects", "ConvMAE", "configs", "convmae_tiny_cpu.py")


def build(config):
    cfg = LazyConfig.load(config)
    torch.manual_seed(0)
    return cfg, instantiate(cfg.model).eval()


# ------------------------------------------------------------ upstream ViTDet layout
def upstream_sfp_names(ref: ReferenceSimpleFeaturePyramid):
    """Reference pyramid tensor -> upstream key. Upstream's branch ``simfp_<stage>`` is one
    Sequential: the resampling layers, then two detectron2 ``Conv2d(norm=LN)`` (the norm a
    child ``.norm``); the reference lists each conv and its LN as separate layers."""
    names = {}
    for i, seq in enumerate(ref.stages):
        stage = 2 + i  # strides 4, 8, 16, 32
        first_conv = next(j for j, m in enumerate(seq)
                          if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1))
        for j, m in enumerate(seq):
            for pname, _ in m.named_parameters(recurse=False):
                if j < first_conv:
                    up = f"{j}"
                else:
                    k, is_norm = divmod(j - first_conv, 2)
                    up = f"{first_conv + k}" + (".norm" if is_norm else "")
                names[f"stages.{i}.{j}.{pname}"] = f"backbone.simfp_{stage}.{up}.{pname}"
    return names


def write_vitdet_pkl(path, detector):
    """A model_final_*.pkl of the tiny ViTDet config: reference backbone + detectron2 heads."""
    torch.manual_seed(1)
    ref = ReferenceSimpleFeaturePyramid(
        ReferenceViT(img_size=128, embed_dim=64, depth=4, num_heads=2, window_size=4,
                     global_blocks=(1, 3), pretrain_img_size=224), out_channels=64)
    randomize(ref, seed=5)
    sfp_names = upstream_sfp_names(ref)
    model = {}
    for k, v in ref.state_dict().items():
        if k.startswith("net.patch_embed."):
            up = "backbone.net.patch_embed.proj." + k.split(".")[-1]
        elif k.startswith("net."):
            up = "backbone." + k
        else:
            up = sfp_names[k]
        model[up] = v.numpy().copy()
    heads = randomize(detector, seed=6).state_dict()
    for k, v in heads.items():
        if not k.startswith("backbone."):
            model[k] = v.numpy().copy()
    with open(path, "wb") as f:
        pickle.dump({"model": model, "__author__": "Detectron2 Model Zoo"}, f)
    return ref, model


def test_vitdet_model_zoo_pkl_loads_whole(tmp_path):
    cfg, ours = build(TINY_VITDET)
    _, donor = build(TINY_VITDET)
    path = str(tmp_path / "model_final_test.pkl")
    ref, model = write_vitdet_pkl(path, donor)
    assert any(k.startswith("backbone.simfp_2.4.norm") for k in model)
    report = load_pretrained(ours, path)
    assert report.format == "vitdet_d2"
    assert sorted(report.loaded) == sorted(ours.state_dict())  # every tensor lands ...
    assert not report.initialized and not report.unexpected and not report.resized  # ... none fresh
    assert len(report.loaded) == len(model)
    # same function as upstream's modules: the pyramid's outputs
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        want, got = ref(x), ours.backbone(x)
    assert set(want) == set(got)
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-4, atol=1e-4)
    sd = ours.state_dict()
    for k in ("roi_heads.box_head.conv1.norm.weight", "proposal_generator.rpn_head.conv.conv0.weight",
              "roi_heads.mask_head.predictor.weight"):
        torch.testing.assert_close(sd[k], torch.from_numpy(model[k]))


def test_released_format_errors(tmp_path):
    _, ours = build(TINY_VITDET)
    path = str(tmp_path / "model_final_test.pkl")
    write_vitdet_pkl(path, build(TINY_VITDET)[1])
    with pytest.raises(CheckpointError, match="loads into a detector"):
        load_pretrained(ours.backbone.net, path)
    _, convmae = build(TINY_CONVMAE)
    with pytest.raises(CheckpointError, match="SimpleFeaturePyramid"):
        load_pretrained(convmae, path, format="vitdet_d2")


# --------------------------------------------------------- Alpha-VL ConvMAE layout
def write_convmae_release(path, detector):
    """Alpha-VL ConvMAE ``DET/`` detector: ``windowed_rel_pos_bias``, flat (1, N, C)
    pos_embed, the tables' index buffers saved with the model."""
    sd = randomize(detector, seed=7).state_dict()
    out = {}
    for k, v in sd.items():
        k2 = k.replace(".window_rel_pos_bias.", ".windowed_rel_pos_bias.")
        if k2.endswith("bottom_up.pos_embed"):
            v = v.reshape(1, -1, v.shape[-1])
        out[k2] = v.clone()
        if k2.endswith("relative_position_bias_table"):
            side = (int(round(v.shape[0] ** 0.5)) + 1) // 2
            out[k2.replace("bias_table", "index")] = relative_position_index((side, side))
    torch.save({"model": out, "iteration": 92187}, path)
    return sd, out


def test_convmae_release_loads_whole(tmp_path):
    _, ours = build(TINY_CONVMAE)
    _, donor = build(TINY_CONVMAE)
    path = str(tmp_path / "convmae_det.pth")
    sd, out = write_convmae_release(path, donor)
    assert out["backbone.bottom_up.pos_embed"].dim() == 3
    assert "backbone.bottom_up.windowed_rel_pos_bias.relative_position_bias_table" in out
    report = load_pretrained(ours, path)
    assert report.format == "convmae_det"
    assert sorted(report.loaded) == sorted(ours.state_dict())
    assert not report.initialized and not report.unexpected and not report.resized
    assert sorted(k for k, _ in report.ignored) == sorted(k for k in out if k.endswith("_index"))
    for k, v in ours.state_dict().items():
        torch.testing.assert_close(v, sd[k])


# ------------------------------------------------------------------ --eval-only
@pytest.mark.slow
def test_eval_only_on_a_released_pkl(tmp_path):
    """tools/train_net.py --eval-only train.init_checkpoint=<model_final.pkl>: the file is
    recognized, loaded whole with its report, and evaluated (COCO box + mask AP)."""
    path = str(tmp_path / "model_final_test.pkl")
    write_vitdet_pkl(path, build(TINY_VITDET)[1])
    out = str(tmp_path / "run")
    res = run_cli_cases([dict(argv=["--config-file", TINY_VITDET, "--eval-only",
                                    f"train.init_checkpoint={path}", f"train.output_dir={out}"])],
                        str(tmp_path / "cli"), env=cli_env())[0]
    assert res["rc"] == 0, res["stdout"][-2000:] + res["stderr"][-3000:]
    import json

    with open(os.path.join(out, "init_report.json")) as f:
        rep = json.load(f)
    assert rep["format"] == "vitdet_d2"
    assert os.path.isfile(os.path.join(out, "report.json"))
    with open(os.path.join(out, "report.json")) as f:
        text = f.read()
    assert "bbox" in text and "segm" in text
