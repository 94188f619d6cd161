"""Tiny iTPN Mask R-CNNs train through tools/train_net.py in both designs; tools/benchmark.py runs on them."""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import vitdet_bench  # noqa: E402,F401
import torch  # noqa: E402

from test_itpn_checkpoint import official_layout  # noqa: E402

CONFIGS = os.path.join(REPO, "projects", "iTPN", "configs")


def _train(tmp_path, config, out, *opts):
    cmd = [sys.executable, os.path.join(REPO, "tools", "train_net.py"), "--config-file",
           os.path.join(CONFIGS, config), f"train.output_dir={out}", "train.max_iter=30",
           "train.log_period=1", "dataloader.train.total_batch_size=2", *opts]
    p = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-4000:])
    rows = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines() if line.strip()]
    losses = [r["total_loss_raw"] for r in rows if "total_loss_raw" in r]
    assert len(losses) == 30, len(losses)
    first, last = sum(losses[:8]) / 8, sum(losses[-8:]) / 8
    assert last < 0.8 * first, (first, last)
    final = [r for r in rows if "bbox/AP" in r]
    assert final and "segm/AP" in final[-1], rows[-1]
    report = json.loads((out / "report.json").read_text())
    for task in ("bbox", "segm"):
        ap = report[task]["coco"]["AP"]
        assert ap is not None and 0.0 <= ap <= 100.0, (task, ap)
    return p


@pytest.mark.slow
def test_integral_design_from_an_official_checkpoint_with_frozen_trunk(tmp_path):
    """Design 1 initialized from an official-layout file, trunk frozen (train.freeze.trunk=True).

    The pyramid and heads train; the saved model's trunk equals the file bit for bit.
    """
    sd = official_layout(embed_dim=64, mlp_depths=(1, 1), depth=2, num_heads=2, fpn_dim=64, seed=3)
    ckpt = tmp_path / "itpn_tiny_pretrain.pth"
    torch.save({"model": sd}, ckpt)
    out = tmp_path / "integral"
    p = _train(tmp_path, "itpn_tiny_cpu.py", out, f"train.init_checkpoint={ckpt}", "train.init_format=auto",
               "model.backbone.pyramid_init=pretrained", "train.freeze.trunk=true")
    init = json.loads((out / "init_report.json").read_text())
    assert init["format"] == "itpn" and not init["initialized"] and not init["unexpected"]
    assert "backbone.blocks.{0-5}.norm2.weight" in (out / "log.txt").read_text() or "Frozen" in p.stdout + p.stderr
    frozen = {n for n, _ in init["frozen"]["frozen"]}
    assert "backbone.absolute_pos_embed" in frozen and "backbone.fpn_modules.0.mlp.fc1.weight" not in frozen
    saved = torch.load(out / "model_final.pth", map_location="cpu", weights_only=False)["model"]
    for key, value in sd.items():
        if key.startswith(("patch_embed.", "absolute_pos_embed", "blocks.")):
            assert torch.equal(saved["backbone." + key], value), key
    assert not torch.equal(saved["backbone.fpn_modules.0.mlp.fc1.weight"], sd["fpn_modules.0.mlp.fc1.weight"])
    assert "itpn.get_itpn_param_groups" in (out / "config.yaml").read_text()


@pytest.mark.slow
def test_benchmark_design_bn_fpn_from_scratch(tmp_path):
    out = tmp_path / "fpn"
    _train(tmp_path, "itpn_tiny_fpn_cpu.py", out)
    assert "_target_: vitdet_bench.modeling.ViTFPN" in (out / "config.yaml").read_text()


def test_benchmark_tool_runs_on_an_itpn_config(tmp_path):
    # (whole-detector FLOPs: projects/ConvMAE/tools/flops.py, which traces list[dict] inputs)
    out = tmp_path / "bench"
    cmd = [sys.executable, os.path.join(REPO, "tools", "benchmark.py"), "--config-file",
           os.path.join(CONFIGS, "itpn_tiny_cpu.py"), "--vit-path", "model.backbone", "--target", "model",
           "--strategies", "global", "global_checkpoint", "--sizes", "128", "--steps", "1", "--warmup", "0",
           "--device", "cpu", "--no-flops", "--output-dir", str(out)]
    p = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-3000:])
    rows = json.loads((out / "benchmark.json").read_text())["rows"]
    assert {r["strategy"] for r in rows} == {"global", "global_checkpoint"}
    for r in rows:
        assert r.get("status") == "ok", r
        assert r["params_M"] > 1.0 and r["train_fwd_bwd_s"] > 0 and r["infer_s_per_image"] > 0
