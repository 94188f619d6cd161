"""A file of a ViT family no format can place is named as such, never "pass --lenient".

A DINOv2 ViT in timm's layout (``timm.create_model('vit_small_patch14_dinov2')``, random
weights) has the keys of a plain timm ViT plus LayerScale (``blocks.N.ls1.gamma``) and, in
the ``_reg`` variants, registers (``reg_token``): detection by keys calls it "supervised",
and a lenient load dropped those tensors and resized the patch kernel 14 -> 16, a different
network. It is refused on inspect and on init, whatever the strictness, naming the parts.
"""
import os

import pytest
import torch

import vitdet_bench  # noqa: F401

from vitdet_bench.checkpoint import CheckpointError, load_pretrained
from vitdet_bench.checkpoint.architecture import unrepresentable_features

from checkpoint_fixtures import our_vit
from engine_fixtures.cli_runner import cli_env, run_cli_cases

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_VITDET = os.path.join(ROOT, "tests", "engine_fixtures", "tiny_vitdet.py")
SUPERVISED_B = os.path.join(ROOT, "configs", "supervised_vitb_mrcnn.py")


def write_dinov2(path, name="vit_small_patch14_dinov2"):
    import timm

    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, img_size=224)
    torch.save(model.state_dict(), path)
    return model


def test_dinov2_is_named_not_loaded_leniently(tmp_path):
    path = str(tmp_path / "dinov2_vits14.pth")
    write_dinov2(path)
    for strict in (True, False):
        with pytest.raises(CheckpointError) as e:
            load_pretrained(our_vit(), path, strict_architecture=strict, lenient_option="--lenient")
        msg = str(e.value)
        assert "this file has LayerScale: a DINOv2-style ViT" in msg and "cannot represent" in msg
        assert "blocks.0.ls1.gamma" in msg and "lenient" not in msg
    reg = str(tmp_path / "dinov2_vits14_reg4.pth")
    write_dinov2(reg, "vit_small_patch14_reg4_dinov2")
    with pytest.raises(CheckpointError, match="this file has LayerScale/registers: a DINOv2-style ViT"):
        load_pretrained(our_vit(), reg, format="supervised")


def test_the_features_by_key():
    found = unrepresentable_features(
        ["blocks.0.mlp.w12.weight", "rope_embed.periods", "blocks.3.ls2.gamma", "reg_token",
         "blocks.0.gamma_1", "blocks.0.mlp.fc1.weight"], our_vit().state_dict())
    assert set(found) == {"SwiGLU", "RoPE", "LayerScale", "registers"}
    assert found["LayerScale"][1] == ["blocks.3.ls2.gamma"]
    # BEiT's layer scale (gamma_1) is the model's own: placeable, not listed
    assert not unrepresentable_features(["blocks.0.gamma_1"],
                                        our_vit(layer_scale_init_value=0.1).state_dict())


def test_inspect_and_init_name_the_architecture(tmp_path, capsys):
    import inspect_checkpoint

    path = str(tmp_path / "dinov2_vits14.pth")
    write_dinov2(path)
    for extra in ([], ["--lenient"]):
        assert inspect_checkpoint.main([path, "--config-file", SUPERVISED_B] + extra) == 1
        err = capsys.readouterr().err
        assert "DINOv2-style ViT" in err and "LayerScale" in err and "lenient" not in err
    res = run_cli_cases([dict(argv=["--config-file", TINY_VITDET, f"train.init_checkpoint={path}",
                                    "train.init_format=auto", "train.warmup_iters=0",
                                    f"train.output_dir={tmp_path / 'run'}"]),
                         dict(argv=["--config-file", TINY_VITDET, f"train.init_checkpoint={path}",
                                    "train.init_lenient=True", "train.warmup_iters=0",
                                    f"train.output_dir={tmp_path / 'run_lenient'}"])],
                        str(tmp_path / "cli"), env=cli_env())
    for r in res:
        assert r["rc"] == 2, r["stderr"][-2000:]
        assert "DINOv2-style ViT" in r["stderr"] and "lenient" not in r["stderr"]
        assert "Traceback" not in r["stderr"]
