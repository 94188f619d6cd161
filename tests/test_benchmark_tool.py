"""tools/benchmark.py end to end on the tiny demo ViT (CPU, fresh subprocess per cell)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow


def test_benchmark_table_json_plot_and_error_cells(tmp_path):
    out = tmp_path / "bench"
    cmd = [sys.executable, os.path.join(ROOT, "tools", "benchmark.py"),
           "--config-file", os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes.py"),
           "--device", "cpu", "--sizes", "64", "72", "--strategies", "window_global", "global_checkpoint",
           "--paths", "sdpa", "plain", "--steps", "1", "--warmup", "0", "--output-dir", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    data = json.loads((out / "benchmark.json").read_text())
    rows = data["rows"]
    assert len(rows) == 2 * 2 * 2
    ok = [r for r in rows if r["size"] == 64]
    assert all(r["status"] == "ok" for r in ok), ok
    for r in ok:
        for key in ("params_M", "gflops_per_image", "train_fwd_bwd_s", "train_step_s",
                    "infer_s_per_image", "fwd_bwd_peak_GB", "train_peak_GB", "infer_peak_GB"):
            assert r[key] > 0, (key, r)
        assert r["fwd_bwd_peak_GB"] <= r["train_peak_GB"] + 1e-6
    # The attention path (sdpa/plain) changes how attention is computed, not what: same
    # parameters and FLOPs. (Strategies differ: all-global has no window bias table.)
    for strategy in ("window_global", "global_checkpoint"):
        cells = [r for r in ok if r["strategy"] == strategy]
        assert len(cells) == 2
        assert len({round(r["params_M"], 6) for r in cells}) == 1, cells
        assert len({round(r["gflops_per_image"], 3) for r in cells}) == 1, cells
    by = {r["strategy"]: r["params_M"] for r in ok}
    assert by["window_global"] > by["global_checkpoint"]  # + the shared window table
    # 72 is not a multiple of the patch size: every such cell is an error *cell*, not a crash.
    bad = [r for r in rows if r["size"] == 72]
    assert all(r["status"] == "error" and "patch_size" in r["error"] for r in bad), bad
    assert "| window_global | 64 | sdpa |" in p.stdout and "| error |" in p.stdout
    assert data["meta"]["device"] == "cpu" and data["meta"]["torch"]
    assert (out / "benchmark.png").read_bytes().startswith(b"\x89PNG")


def test_benchmark_whole_detector_training_step(tmp_path):
    """``--target model`` times the Mask R-CNN step (the GPU table's command) on CPU."""
    out = tmp_path / "bench_model"
    cmd = [sys.executable, os.path.join(ROOT, "tools", "benchmark.py"),
           "--config-file", os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes.py"),
           "--target", "model", "--device", "cpu", "--sizes", "128", "--batch-size", "2",
           "--strategies", "window_global", "--paths", "sdpa", "--steps", "1", "--warmup", "0",
           "--no-flops", "--output-dir", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    (row,) = json.loads((out / "benchmark.json").read_text())["rows"]
    assert row["status"] == "ok", row
    assert row["params_M"] > 1.0  # the whole detector, not the backbone alone
    for key in ("train_fwd_bwd_s", "train_step_s", "infer_s_per_image", "train_peak_GB"):
        assert row[key] > 0, (key, row)
