"""Each timm family's tiny config (``configs/families/<family>_tiny_shapes.py``) end to end.

A 128-d, 8-block timm model of the family with random weights is written in the
family's official layout (the writers of tests/test_timm_trunk.py); the config trains
from it through ``tools/train_net.py`` (loss falls, box and mask AP reported; the trunk
frozen or trained as the table says), ``tools/inspect_checkpoint.py`` reports it, and
``tools/benchmark.py`` measures the config.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch

from test_timm_trunk import FAMILIES  # tests/ is on pytest's path

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY = dict(embed_dim=128, depth=8, num_heads=4)   # the shape of use_tiny_timm_trunk
TRAIN_ITERS, LOSS_WINDOW = 30, 8   # the loss of the last 8 iterations vs the first 8

# family (configs/families/<family>_tiny_shapes.py): its entry in test_timm_trunk.FAMILIES
# (timm model, extra kwargs, pre-training size, format, official-layout writer), a trunk
# key the family has (its LayerScale, biases, norms), whether the training test freezes the trunk
# (train.freeze.trunk), and what the error says when the file's LayerScale is removed
# (None: the family has no LayerScale): the model's LayerScale keys; a DeiT III file
# without its gamma_1/gamma_2 has MAE's plain ViT layout and is refused as that.
TINY_FAMILIES = {
    "dinov2": ("dinov2", "blocks.0.ls1.gamma", False, "blocks.0.ls1.gamma"),
    "dinov2reg": ("dinov2_reg", "blocks.0.ls1.gamma", True, "blocks.0.ls1.gamma"),
    "dinov3": ("dinov3", "blocks.0.gamma_1", False, "blocks.0.gamma_1"),
    "eva02": ("eva02", "blocks.0.attn.q_proj.bias", False, None),
    "siglip2": ("siglip2_hf", "patch_embed.proj.bias", False, None),
    "pe_spatial": ("pe_spatial", "blocks.0.gamma_1", True, "blocks.0.gamma_1"),
    "aimv2": ("aimv2", "blocks.0.mlp.fc1_g.weight", False, None),
    "clip": ("openai_clip", "norm_pre.weight", False, None),
    "deit3": ("deit3", "blocks.0.ls1.gamma", False,
              "this file looks like 'mae' (detected from its keys), but format 'deit3'"),
}


def _config(family):
    return str(REPO_ROOT / "configs" / "families" / f"{family}_tiny_shapes.py")


def _write_tiny(family, folder):
    """The family's timm model at the tiny config's shape with timm's random weights,
    written in the official layout: (the timm state dict, the file)."""
    name, kw, img, fmt, writer, _ = FAMILIES[TINY_FAMILIES[family][0]]
    torch.manual_seed(0)
    src = timm.create_model(name, pretrained=False, img_size=img, num_classes=0, **TINY, **kw)
    timm_sd = {k: v.detach().clone() for k, v in src.state_dict().items()}
    data = writer(timm_sd, src)
    if fmt == "siglip2_hf":
        from safetensors.torch import save_file

        path = folder / "model.safetensors"
        save_file({k: v.contiguous() for k, v in data.items()}, str(path))
    else:
        path = folder / f"{family}_tiny_pretrain.pth"
        torch.save(data, path)
    return timm_sd, path


@pytest.mark.parametrize("family", sorted(TINY_FAMILIES))
def test_tiny_config_is_the_tested_timm_model(family):
    """The config builds the model the tests write files from, at the tiny shape."""
    from detectron2.config import LazyConfig

    name, kw, img, _, _, _ = FAMILIES[TINY_FAMILIES[family][0]]
    cfg = LazyConfig.load(_config(family))
    net = cfg.model.backbone.bottom_up.net
    assert (net.model_name, net.pretrain_img_size, net.img_size) == (name, img, 256)
    assert dict(net.model_kwargs) == dict(TINY, **kw)
    assert cfg.train.vitdet_bench.init == family


@pytest.mark.parametrize("family", sorted(TINY_FAMILIES))
def test_frozen_backbone_protocol_freezes_the_whole_trunk(family):
    """train.freeze.trunk on each family: every trunk tensor frozen and kept in eval mode
    (drop path off), the adaptor, FPN and heads trainable."""
    from detectron2.config import LazyConfig, instantiate

    from vitdet_bench.modeling.backbone.timm_trunk import TimmTrunk
    from vitdet_bench.modeling.freeze import freeze_pretrained

    cfg = LazyConfig.load(_config(family))
    cfg.model.backbone.bottom_up.net.drop_path_rate = 0.1
    model = instantiate(cfg.model)
    summary = freeze_pretrained(model, trunk=True)
    trunk = next(m for m in model.modules() if isinstance(m, TimmTrunk))
    assert summary.net.endswith("(TimmTrunk)")
    params = list(trunk.parameters())
    assert len(params) > 50 and all(not p.requires_grad for p in params)
    others = [n for n, p in model.named_parameters() if not n.startswith("backbone.bottom_up.net.")]
    assert others and all(p.requires_grad for n, p in model.named_parameters() if n in others)
    model.train()
    assert not any(m.training for m in trunk.modules()) and model.roi_heads.training


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(TINY_FAMILIES))
def test_family_tiny_config_trains_from_an_official_file(family, tmp_path):
    """configs/families/<family>_tiny_shapes.py through tools/train_net.py from an
    official-layout file (128-d, 8 blocks): the loss falls, box and mask AP are reported;
    with the trunk frozen (train.freeze.trunk) the saved trunk is the loaded one, else it
    has trained."""
    _, _, img, fmt, _, _ = FAMILIES[TINY_FAMILIES[family][0]]
    probe, frozen = TINY_FAMILIES[family][1:3]
    timm_sd, ckpt = _write_tiny(family, tmp_path)
    out = tmp_path / "run"
    cmd = [sys.executable, str(REPO_ROOT / "tools" / "train_net.py"), "--config-file", _config(family),
           f"train.output_dir={out}", f"train.max_iter={TRAIN_ITERS}", "train.warmup_iters=3",
           "train.log_period=1", "dataloader.train.total_batch_size=2",
           "dataloader.test.dataset.names=shapes_val_mini",
           f"train.init_checkpoint={ckpt}", f"train.freeze.trunk={str(frozen).lower()}"]
    p = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-4000:])
    init = json.loads((out / "init_report.json").read_text())
    assert init["format"] == fmt and not init["unexpected"] and not init["initialized"]
    if img == 56:
        assert ["patch_embed.proj.weight", [128, 3, 14, 14], [128, 3, 16, 16]] in init["resized"]
    rows = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines() if line.strip()]
    losses = [r["total_loss_raw"] for r in rows if "total_loss_raw" in r]
    assert len(losses) == TRAIN_ITERS, len(losses)
    first = sum(losses[:LOSS_WINDOW]) / LOSS_WINDOW
    last = sum(losses[-LOSS_WINDOW:]) / LOSS_WINDOW
    assert last < 0.8 * first, (first, last)
    report = json.loads((out / "report.json").read_text())
    for task in ("bbox", "segm"):
        ap = report[task]["coco"]["AP"]
        assert ap is not None and 0.0 <= ap <= 100.0, (task, ap)
    saved = torch.load(out / "model_final.pth", map_location="cpu", weights_only=False)["model"]
    prefix = "backbone.bottom_up.net."
    for key in (probe, "blocks.7.mlp.fc2.weight", "blocks.3.norm1.weight"):
        assert torch.equal(saved[prefix + key], timm_sd[key]) is frozen, key


def _without_layer_scale(data):
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), dict):
        (wrapper, sd), = data.items()
        return {wrapper: _without_layer_scale(sd)}
    marks = (".ls1.", ".ls2.", ".ls_1.", ".ls_2.", ".gamma_1", ".gamma_2")
    return {k: v for k, v in data.items() if not any(m in k for m in marks)}


@pytest.mark.parametrize("family", sorted(TINY_FAMILIES))
def test_inspect_checkpoint_tool_reports_a_family_file(family, tmp_path, capsys):
    """tools/inspect_checkpoint.py on the family's official-layout file: detected, every
    tensor loaded or ignored by a named rule; without its LayerScale (the families that
    have it) the tool exits 1 naming the file and the keys."""
    import inspect_checkpoint as tool  # tools/ is on pytest's path

    fmt = FAMILIES[TINY_FAMILIES[family][0]][3]
    without_layer_scale = TINY_FAMILIES[family][3]
    _, ckpt = _write_tiny(family, tmp_path)
    rc = tool.main([str(ckpt), "--config-file", _config(family), "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert f"format: auto (detected from the file: {fmt})" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["format"] == fmt and not report["unexpected"] and not report["initialized"]
    assert report["loaded"]
    if family == "dinov2reg":
        assert ["register_tokens", "prefix token (register / storage) dropped before the first "
                "detection block (prefix_tokens='drop') [as reg_token]"] in report["ignored"]
    if without_layer_scale is None:
        return
    torch.save(_without_layer_scale(torch.load(ckpt)), ckpt)
    assert tool.main([str(ckpt), "--config-file", _config(family), "--format", fmt]) == 1
    err = capsys.readouterr().err
    assert ckpt.name in err and without_layer_scale in err, err


# one family in the fast lane, the others (~12 s each on one core) slow
@pytest.mark.parametrize("family", [f if f == "dinov2reg" else pytest.param(f, marks=pytest.mark.slow)
                                    for f in sorted(TINY_FAMILIES)])
def test_benchmark_tool_runs_on_a_family_config(family, tmp_path):
    out = tmp_path / "bench"
    cmd = [sys.executable, str(REPO_ROOT / "tools" / "benchmark.py"), "--config-file", _config(family),
           "--target", "model", "--strategies", "window_global", "global_checkpoint",
           "--sizes", "128", "--steps", "1", "--warmup", "0", "--device", "cpu", "--no-flops",
           "--output-dir", str(out)]
    p = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-3000:])
    rows = json.loads((out / "benchmark.json").read_text())["rows"]
    assert {r["strategy"] for r in rows} == {"window_global", "global_checkpoint"}
    for r in rows:
        assert r.get("status") == "ok", r
        assert r["params_M"] > 1.0 and r["train_fwd_bwd_s"] > 0 and r["infer_s_per_image"] > 0
