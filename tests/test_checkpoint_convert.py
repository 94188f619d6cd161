"""tools/convert_checkpoint.py: every public layout round-trips through safetensors.

For each layout the project reads, the converted file is detected as the same format,
gives the same load report (all but the path) and loads bit-identical tensors.
"""
import argparse
import datetime
import os

import numpy as np
import pytest
import torch

import vitdet_bench  # noqa: F401

from vitdet_bench.checkpoint import (CheckpointError, load_pretrained, read_checkpoint,
                                     unwrap_state_dict)
from vitdet_bench.checkpoint.convert import convert_to_safetensors

from checkpoint_fixtures import make_beit, make_deit, make_mae, make_mocov3, our_vit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _same_load(make_model, original, converted, **kw):
    a, b = make_model(), make_model()
    rep_a = load_pretrained(a, original, **kw).to_dict()
    rep_b = load_pretrained(b, converted, **kw).to_dict()
    rep_a.pop("path"), rep_b.pop("path")
    assert rep_a == rep_b
    # the files' tensors, bit for bit
    ta = unwrap_state_dict(read_checkpoint(original))
    tb = unwrap_state_dict(read_checkpoint(converted))
    assert list(ta) == list(tb)
    for k in ta:
        assert ta[k].dtype == tb[k].dtype and ta[k].shape == tb[k].shape and torch.equal(ta[k], tb[k]), k
    sa, sb = a.state_dict(), b.state_dict()
    loaded = set(rep_a["loaded"])
    assert loaded
    for k in sa:
        # tensors initialized fresh by a random rule differ between two models; loaded ones
        # (and every rule-initialized constant) must be bit-identical
        if any(k.endswith(x) for x in loaded) or "relative_position" in k or "running" in k:
            assert sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]), k
    return rep_a


def _convert(src, tmp_path, **kw):
    out = str(tmp_path / (os.path.basename(str(src)) + ".safetensors"))
    summary = convert_to_safetensors(src, out, **kw)
    assert summary.tensors > 0
    return out, summary


def test_vit_layouts_round_trip(tmp_path):
    paths = {}
    make_mae(tmp_path / "m.pth")
    raw = torch.load(tmp_path / "m.pth", weights_only=True)
    torch.save(dict(raw, epoch=1599, args=argparse.Namespace(mask_ratio=0.75, norm_pix_loss=True)),
               tmp_path / "mae.pth")
    paths["mae"] = (tmp_path / "mae.pth", {})
    make_deit(tmp_path / "deit.pth")
    paths["supervised"] = (tmp_path / "deit.pth", {})
    make_deit(tmp_path / "timm_bare.pth", bare=True)
    paths["supervised_bare"] = (tmp_path / "timm_bare.pth", {})
    make_mocov3(tmp_path / "v.pth.tar")
    raw = torch.load(tmp_path / "v.pth.tar", weights_only=True)
    raw["optimizer"]["state"] = {0: {"exp_avg": torch.randn(3)}}
    torch.save(raw, tmp_path / "mocov3.pth.tar")
    paths["mocov3"] = (tmp_path / "mocov3.pth.tar", {})
    make_beit(tmp_path / "beit.pth")
    paths["beit"] = (tmp_path / "beit.pth", dict(layer_scale_init_value=0.1, rel_pos="shared",
                                                 attention_strategy="window", window_size=14,
                                                 use_abs_pos=False))
    for name, (src, kw) in paths.items():
        out, summary = _convert(src, tmp_path)
        rep = _same_load(lambda: our_vit(**kw), src, out)
        assert rep["format"] == name.replace("_bare", ""), name
    # what the converter keeps and leaves out
    raw = read_checkpoint(str(tmp_path / "mae.pth.safetensors"))
    assert raw["epoch"] == 1599 and raw["args"]["mask_ratio"] == 0.75
    _, summary = _convert(tmp_path / "mocov3.pth.tar", tmp_path)
    assert summary.wrapper == "state_dict" and "optimizer" in summary.dropped


def test_released_detector_layouts_round_trip(tmp_path):
    from test_released_detectors import (TINY_CONVMAE, TINY_VITDET, build, write_convmae_release,
                                         write_vitdet_pkl)

    pkl = str(tmp_path / "model_final_test.pkl")
    write_vitdet_pkl(pkl, build(TINY_VITDET)[1])
    out, summary = _convert(pkl, tmp_path)
    assert summary.wrapper == "model" and "__author__" in summary.kept
    rep = _same_load(lambda: build(TINY_VITDET)[1], pkl, out)
    assert rep["format"] == "vitdet_d2" and not rep["initialized"]
    det = str(tmp_path / "convmae_det.pth")
    write_convmae_release(det, build(TINY_CONVMAE)[1])
    out, _ = _convert(det, tmp_path)
    rep = _same_load(lambda: build(TINY_CONVMAE)[1], det, out)
    assert rep["format"] == "convmae_det"


def test_resnet_layouts_round_trip(tmp_path):
    from test_checkpoint_resnet import LAYOUTS, Bottleneck, TVResNet, _d2_resnet, _randomize

    tv = _randomize(TVResNet(Bottleneck, [1, 1, 1, 1]))
    for fmt, (name, save) in LAYOUTS.items():
        src = tmp_path / fmt / name
        os.makedirs(src.parent)
        save(tv, src)
        out, _ = _convert(src, tmp_path / fmt)
        rep = _same_load(lambda: _d2_resnet([1, 1, 1, 1], stride_in_1x1=fmt == "resnet_caffe2"),
                         src, out)
        assert rep["format"] == fmt


def test_the_tool(tmp_path, capsys):
    import convert_checkpoint

    make_mae(tmp_path / "m.pth")
    raw = torch.load(tmp_path / "m.pth", weights_only=True)
    torch.save(dict(raw, made=datetime.date(2022, 1, 1), metric=np.float64(0.5)),
               tmp_path / "dated.pth")
    out = str(tmp_path / "dated.safetensors")
    assert convert_checkpoint.main([str(tmp_path / "dated.pth"), out]) == 1
    err = capsys.readouterr().err
    assert "'datetime.date'" in err and "--trust-checkpoint" in err
    assert not os.path.exists(out)  # nothing written
    assert convert_checkpoint.main([str(tmp_path / "dated.pth"), out, "--trust-checkpoint"]) == 0
    text = capsys.readouterr().out
    assert "left out" in text and "made" in text and "metric" in text
    rep = load_pretrained(our_vit(), out)
    assert rep.format == "mae" and not rep.trusted_pickle
    with pytest.raises(CheckpointError, match="must be a .safetensors file"):
        convert_to_safetensors(tmp_path / "m.pth", tmp_path / "x.pth")


def test_convmae_and_itpn_pretraining_layouts_round_trip(tmp_path):
    from test_convmae_backbone import fake_pretrain_checkpoint, tiny
    from test_itpn_checkpoint import Detector, tiny_file, tiny_net

    raw = fake_pretrain_checkpoint(tiny(img_size=128), grid=4)
    raw["args"] = argparse.Namespace(model="convmae_convvit_base_patch16", mask_ratio=0.75)
    torch.save(raw, tmp_path / "convmae.pth")
    out, _ = _convert(tmp_path / "convmae.pth", tmp_path)
    assert _same_load(lambda: tiny(img_size=128), tmp_path / "convmae.pth", out)["format"] == "convmae"
    src = tiny_file(tmp_path)
    out, _ = _convert(src, tmp_path)
    assert _same_load(lambda: Detector(tiny_net()), src, out)["format"] == "itpn"
