"""tools/complexity.py measures a detector config (params, FLOPs, train step, inference) and
writes its table; on the tiny ResNet config at 128 px so that it runs in seconds. The
measurements are vitdet_bench.measure's; the FLOPs-by-module breakdown is keyed by the
detector's own module names, whatever the tracing wrapper calls it."""
import os
import runpy
from types import SimpleNamespace

import pytest
import torch

import vitdet_bench  # noqa: F401
from vitdet_bench import measure
from vitdet_bench.measure import flops

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the command line, loaded as `python tools/complexity.py` runs it (tools/ is not a package)
complexity = SimpleNamespace(**runpy.run_path(os.path.join(REPO, "tools", "complexity.py")))


def test_one_cell_and_the_table(tmp_path):
    spec = dict(config_file=os.path.join(REPO, "configs", "demo", "resnet_tiny_shapes.py"), device="cpu",
                size=128, steps=1, warmup=0, no_flops=False, no_train=False, no_infer=False,
                # few detections: postprocessing 100 random-weight masks would dominate the test
                opts=["model.backbone.square_pad=128", "model.roi_heads.box_predictor.test_topk_per_image=5",
                      "model.proposal_generator.post_nms_topk=[300,50]"])
    res = measure.complexity_cell(spec)
    assert res["status"] == "ok" and res["backbone"] == "ResNet"
    assert 12 < res["params_M"] < 13.5  # ResNet-18 (11.2 M) + 64-channel FPN and heads
    # the detector's own top-level modules, on every detectron2 version
    assert set(res["gflops_by_module"]) == {"backbone", "proposal_generator", "roi_heads"}
    # the backbone's share: ResNet-18 is 1.82 GMACs at 224, 0.59 at 128; a 64-channel FPN on top
    assert 0.59 < res["gflops_by_module"]["backbone"] < 0.9, res["gflops_by_module"]
    assert res["gflops_per_image"] > res["gflops_by_module"]["backbone"]
    assert sum(res["gflops_by_module"].values()) <= res["gflops_per_image"] * (1 + 1e-9)
    for k in ("train_step_s", "train_peak_GB", "infer_s_per_image", "infer_peak_GB"):
        assert res[k] > 0, k
    row = dict(label="R18-tiny", config="configs/demo/resnet_tiny_shapes.py", **res)
    md = complexity.table([row, dict(label="X", status="OOM", backbone="ViT")])
    assert "| R18-tiny | ResNet | 12." in md and "| X | ViT | OOM | OOM | OOM | OOM | OOM | OOM |" in md
    assert complexity.plot([row], str(tmp_path / "c.png")) and (tmp_path / "c.png").stat().st_size > 1000


def test_bad_config_path_is_one_line():
    with pytest.raises(SystemExit, match="expected LABEL=path/to/config.py"):
        complexity.parse_configs(["R50=configs/resnet/nope.py"])


@pytest.mark.parametrize("preset", sorted(complexity.PRESETS))
def test_every_preset_row_is_a_config_of_the_project(preset):
    args = complexity.parse_args(["--preset", preset])
    rows = complexity.parse_configs(args.configs)
    assert [label for label, _ in rows] == [label for label, _ in complexity.PRESETS[preset]]
    assert complexity.parse_args([]).configs == complexity.parse_args(["--preset", "paper"]).configs
    with pytest.raises(SystemExit):
        complexity.parse_args(["--preset", preset, "--configs", "configs/mae_vitb_mrcnn.py"])


def _tiny_model(config, *opts):
    from detectron2.config import LazyConfig, instantiate

    torch.manual_seed(0)
    cfg = LazyConfig.apply_overrides(LazyConfig.load(os.path.join(REPO, "configs", "demo", config)),
                                     list(opts))
    return instantiate(cfg.model)


def test_batchnorm_calibrated_on_the_image_and_every_model_counts_100_detections():
    """A random-weight model's eval-mode BN (mean 0 / var 1) can leave the ROI heads no
    proposal; the count first takes each BN's statistics from the image, then keeps the
    full test_topk_per_image detections (score threshold 0), and restores the model."""
    model = _tiny_model("resnet_tiny_shapes.py", "model.backbone.square_pad=128",
                        "model.roi_heads.box_predictor.test_topk_per_image=7").eval()
    stem_bn = model.backbone.bottom_up.stem.conv1.norm
    assert isinstance(stem_bn, torch.nn.BatchNorm2d)
    seen, kept = [], []
    h1 = stem_bn.register_forward_hook(lambda m, i, o: seen.append(i[0].detach().clone()))
    h2 = model.roi_heads.mask_head.register_forward_hook(
        lambda m, i, o: kept.append(sum(len(x) for x in i[1])))
    image = torch.rand(3, 128, 128) * 255
    measure.calibrate_batchnorm(model, image)
    x = seen[0]
    assert torch.allclose(stem_bn.running_mean, x.mean((0, 2, 3)), atol=1e-4)
    assert torch.allclose(stem_bn.running_var, x.var((0, 2, 3), unbiased=True), rtol=1e-4)
    assert stem_bn.momentum == 0.1 and not stem_bn.training  # restored
    total, parts = measure.detector_flops(model, 128, "cpu")
    h1.remove(), h2.remove()
    assert kept[-1] == 7, kept  # the mask head ran on test_topk_per_image detections
    assert model.roi_heads.box_predictor.test_score_thresh == 0.05  # restored
    assert parts["roi_heads"] > 0 and total > parts["backbone"]


class _NamedLikeTracingAdapter(torch.nn.Module):
    """A wrapper that holds the detector as ``model`` (detectron2's TracingAdapter on
    upstream main) instead of ``detector``: the breakdown must not change."""

    def __init__(self, detector):
        super().__init__()
        self.model = flops.DetectorForTracing(detector)

    def forward(self, image):
        return self.model(image)


def test_breakdown_is_keyed_by_the_models_own_modules_whatever_the_wrapper():
    model = _tiny_model("resnet_tiny_shapes.py", "model.backbone.square_pad=128",
                        "model.roi_heads.box_predictor.test_topk_per_image=5").eval()
    image = torch.rand(3, 128, 128) * 255
    measure.calibrate_batchnorm(model, image)
    saved = measure.keep_all_detections(model)
    ours = measure.count_detector_flops(model, image)
    for m in model.modules():  # as count_detector_flops does: the traceable ROIAlign
        if getattr(m, "gather_on_cpu", False):
            m.gather_on_cpu = False
    other = measure.count_flops(_NamedLikeTracingAdapter(model), model, (image,))
    measure.restore_thresholds(saved)
    assert ours.total == other.total > 0
    assert ours.by_child == other.by_child
    assert list(ours.by_child) == [name for name, _ in model.named_children()]
    assert ours.by_module[""] == ours.total
    assert ours.by_module["roi_heads.box_head"] > 0 and "roi_heads.mask_head" in ours.by_module
    assert not any(k.startswith(("model.", "detector.")) for k in ours.by_module)


def test_global_attention_is_counted_where_the_cpu_kernel_is_query_blocked():
    """At 1024+ tokens the CPU forward takes the query-blocked kernel, which the tracer
    cannot follow; the count goes through SDPA, whose handle counts QK^T and PV: the
    same FLOPs fvcore counts for the plain matmul path."""
    from vitdet_bench.layers import attention

    opts = ["dataloader.train.mapper.image_size=512", "model.backbone.square_pad=512",
            "model.backbone.bottom_up.net.img_size=512",
            "model.roi_heads.box_predictor.test_topk_per_image=5"]
    assert attention.uses_chunked_attention(True, "cpu", 32 * 32)  # 512 px, patch 16
    counts = {}
    for use_sdpa in (True, False):
        model = _tiny_model("vit_tiny_shapes.py", *opts,
                            f"model.backbone.bottom_up.net.use_sdpa={use_sdpa}")
        counts[use_sdpa] = measure.detector_flops(model, 512, "cpu")[1]["backbone"]
    assert attention.CPU_CHUNKED_MIN_TOKENS == 1024  # restored
    assert counts[True] == counts[False], counts
    # 8 blocks of 1024 tokens x 128 d: qkv + proj + MLP = 12 N C^2, global QK^T + PV 2 N^2 C
    assert counts[True] > 8 * 12 * 1024 * 128 ** 2 / 1e9
