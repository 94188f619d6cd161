"""The benchmark's ViTDet reference (tools/reference_vitdet.py) and its same-run ratios.

The reference stands in for detectron2 main's ViTDet backbone on detectron2 0.6; it
must compute what our decomposed-rel-pos attention computes (same weights, same
output), have ViTDet's layout, and ``tools/benchmark.py --reference --repeats``
must report medians and ratios against it.
"""
import json
import os
import runpy
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

import vitdet_bench  # noqa: F401
from vitdet_bench import measure as B
from vitdet_bench.layers.attention import Attention

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# tools/reference_vitdet.py, loaded as a script (tools/ is not a package)
R = SimpleNamespace(**runpy.run_path(os.path.join(ROOT, "tools", "reference_vitdet.py")))


@pytest.mark.parametrize("use_sdpa", [False, True])
@pytest.mark.parametrize("hw", [(6, 5), (9, 7)])  # (9, 7): tables built for 6x5, resampled
def test_reference_attention_equals_decomposed_attention(use_sdpa, hw):
    torch.manual_seed(0)
    ref = R._Attention(32, num_heads=4, input_size=(6, 5))
    for p in (ref.rel_pos_h, ref.rel_pos_w):
        torch.nn.init.normal_(p, std=0.5)
    ours = Attention(32, num_heads=4, use_sdpa=use_sdpa, decomposed_rel_pos_size=(6, 5))
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, *hw, 32)
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)


def test_reference_layout_and_outputs():
    model, origin = R.build_reference(img_size=128, embed_dim=64, depth=4, num_heads=2,
                                      window_size=3, global_blocks=(1, 3))
    assert "re-implemented" in origin or "upstream" in origin
    if isinstance(model, R.ReferenceSimpleFeaturePyramid):
        windows = [b.window_size for b in model.net.blocks]
        assert windows == [3, 0, 3, 0]  # 8x8 grid, padded to 9x9 in the windowed blocks
        # ViTDet halves the channels in the 2x branch and quarters them in the 4x branch.
        assert model.stages[0][0].out_channels == 32 and model.stages[0][3].out_channels == 16
        assert model.stages[1][0].out_channels == 32
    out = model(torch.randn(1, 3, 128, 128))
    assert list(out) == ["p2", "p3", "p4", "p5", "p6"]
    assert [o.shape[-1] for o in out.values()] == [32, 16, 8, 4, 2]
    assert all(o.shape[1] == 256 for o in out.values())
    sum(o.mean() for o in out.values()).backward()


def test_aggregate_medians_and_relative_rows():
    runs = [dict(size=64, strategy=s, path=p, repeat=i, status="ok", train_fwd_bwd_s=t,
                 fwd_bwd_peak_GB=m)
            for i, (s, p, t, m) in enumerate([("window_global", "sdpa", 3.0, 1.0),
                                              ("reference", "plain", 4.0, 2.0),
                                              ("window_global", "sdpa", 5.0, 1.0),
                                              ("reference", "plain", 6.0, 2.0),
                                              ("window_global", "sdpa", 4.0, 1.0),
                                              ("reference", "plain", 5.0, 2.0)])]
    cells = [(64, "window_global", "sdpa"), (64, "reference", "plain")]
    rows = B.aggregate(runs, cells)
    assert [r["train_fwd_bwd_s"] for r in rows] == [4.0, 5.0] and rows[0]["repeats"] == 3
    rel = B.relative_to_reference(rows)
    assert len(rel) == 1
    assert rel[0]["train_fwd_bwd_s"]["less_pct"] == pytest.approx(20.0)
    assert rel[0]["fwd_bwd_peak_GB"]["less_pct"] == pytest.approx(50.0)
    assert "(+20%)" in B.format_relative(rel) and "(+50%)" in B.format_relative(rel)


@pytest.mark.slow
def test_benchmark_reference_cells_end_to_end(tmp_path):
    out = tmp_path / "bench"
    cmd = [sys.executable, os.path.join(ROOT, "tools", "benchmark.py"),
           "--config-file", os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes.py"),
           "--device", "cpu", "--sizes", "64", "--strategies", "window_global", "--paths", "sdpa",
           "--steps", "1", "--warmup", "0", "--no-flops", "--no-infer", "--reference",
           "--repeats", "2", "--output-dir", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    data = json.loads((out / "benchmark.json").read_text())
    assert [r["strategy"] for r in data["rows"]] == ["window_global", "reference"]
    assert all(r["status"] == "ok" and r["repeats"] == 2 for r in data["rows"]), data["rows"]
    assert len(data["runs"]) == 4
    ref = data["rows"][1]
    assert "ViTDet" in ref["reference"] or "upstream" in ref["reference"]
    rel = data["relative_to_reference"]
    assert rel[0]["strategy"] == "window_global" and "train_fwd_bwd_s" in rel[0]
    assert "Against the reference" in p.stdout


def test_reference_resamples_rel_pos_for_another_grid():
    """A table built for another grid is resampled linearly, as upstream's get_rel_pos."""
    table = torch.randn(11, 8)
    want = torch.nn.functional.interpolate(table.T[None], size=17, mode="linear")[0].T
    got = R._rel_pos(9, 9, table)
    torch.testing.assert_close(got[0, 0], want[8])  # offset 0
    torch.testing.assert_close(got[8, 0], want[16])
    torch.testing.assert_close(got[0, 8], want[0])
