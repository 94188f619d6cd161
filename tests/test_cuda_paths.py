"""The code paths that mean something different on CUDA, run on every available device.

Each test takes the ``device`` fixture (tests/conftest.py): its ``cpu`` instance runs
everywhere, its ``cuda`` instance (marker ``cuda``, ``pytest -m cuda``) where torch sees
a GPU; ``benchmarks/gpu_suite.sh`` runs the latter. Tolerances:

* fp32, the reference (explicit softmax) path against SDPA: 1e-5, outputs and gradients
  (rtol, and atol relative to the tensor's largest magnitude: a bias gradient sums
  hundreds of terms); TF32 is off (``device_fixtures.exact_fp32``).
* bf16 autocast: each path against a float64 reference computed on the CPU, as a relative
  error ``||x - ref|| / ||ref||``: at most ``BF16_OUT_TOL`` for outputs and
  ``BF16_GRAD_TOL`` for gradients. bf16 keeps 8 significant bits (2**-8 = 3.9e-3 per
  rounding); a block rounds its activations, the projections and (on the SDPA path) the
  additive bias to bf16 several times; measured on the CPU: outputs within 2e-3, gradients
  within 1.1e-2; the limits leave 3-5x room for the GPU kernels' accumulation order.
"""
import json
import os
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

import vitdet_bench  # noqa: F401  (compat patches before detectron2)
from detectron2.config import LazyConfig, instantiate
from detectron2.layers import NaiveSyncBatchNorm
from detectron2.modeling.poolers import ROIPooler as D2ROIPooler
from detectron2.utils.events import EventStorage

from device_fixtures import autocast, peak_cuda_gb
from test_roi_align_gather import SCALES, _boxes, _grads, _pyramid
from test_vit_perf_checkpoint import _assert_same
from vitdet_bench import measure
from vitdet_bench.layers import attention as A
from vitdet_bench.layers.norm import convert_batchnorm_for_world
from vitdet_bench.modeling import poolers
from vitdet_bench.modeling.backbone.vit import ATTENTION_STRATEGIES, Block

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEMO = os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes.py")
BF16_OUT_TOL = 1e-2  # measured on the CPU (torch 2.14): at most 1.9e-3
BF16_GRAD_TOL = 3e-2  # measured on the CPU: at most 1.1e-2


def _close_fp32(a, ref):
    """Equal to 1e-5, relative to each element and to the tensor's largest magnitude."""
    scale = max(1.0, float(ref.abs().max()))
    torch.testing.assert_close(a, ref, atol=1e-5 * scale, rtol=1e-5)


def _rel_err(a, ref):
    a, ref = a.detach().double().cpu(), ref.detach().double().cpu()
    return float((a - ref).norm() / ref.norm().clamp_min(1e-30))


# --------------------------------------------------------------- attention paths
GRID = 8  # 8x8 token map: 64 tokens globally, four 4x4 windows
LAYOUTS = {"global": (0, 0), "window": (4, 0), "shifted_window": (4, 2)}
BIASES = ("none", "shared_table", "decomposed", "shared_table+decomposed")


def _attention_block(layout, bias, seed=0):
    """A Block with random weights (random decomposed tables) and its shared bias table."""
    ws, shift = LAYOUTS[layout]
    attn_grid = (ws, ws) if ws else (GRID, GRID)
    torch.manual_seed(seed)
    block = Block(32, 2, window_size=ws, shift_size=shift,
                  decomposed_rel_pos_size=attn_grid if "decomposed" in bias else None)
    for name, p in block.named_parameters():  # LayerNorm ones/zeros, zero tables hide errors
        if name.startswith("norm") and name.endswith("weight"):
            nn.init.normal_(p, mean=1.0, std=0.1)
        else:
            nn.init.normal_(p, std=0.5 if "rel_pos" in name else 0.1)
    table = A.RelativePositionBias(attn_grid, 2, init="random") if "shared" in bias else None
    if table is not None:
        nn.init.normal_(table.relative_position_bias_table, std=0.5)
    return block, table


def _attention_run(block, table, x, use_sdpa):
    """Output and gradients (input, block parameters, shared table) of one forward/backward."""
    for m in block.modules():
        if isinstance(m, A.Attention):
            m.use_sdpa = use_sdpa
    # As ViT passes them: windows get the dense table, global blocks a lazy one.
    bias = None if table is None else (table() if block.window_size else table.lazy())
    x = x.detach().requires_grad_()
    out = block(x, bias)
    # random loss weights: a linspace would make bias gradients (sums over tokens) cancel
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(2)).to(out.device)
    (out.float() * weight).sum().backward()
    params = [x] + list(block.parameters()) + (
        [] if table is None else [table.relative_position_bias_table])
    grads = [p.grad.detach().clone() for p in params]
    block.zero_grad(set_to_none=True)
    if table is not None:
        table.zero_grad(set_to_none=True)
    return out.detach(), grads


@pytest.mark.parametrize("bias", BIASES)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_attention_paths_agree_fp32(device, layout, bias):
    block, table = _attention_block(layout, bias)
    block.to(device)
    table = table.to(device) if table is not None else None
    x = torch.randn(2, GRID, GRID, 32, generator=torch.Generator().manual_seed(1)).to(device)
    ref_out, ref_grads = _attention_run(block, table, x, use_sdpa=False)
    out, grads = _attention_run(block, table, x, use_sdpa=True)
    _close_fp32(out, ref_out)
    assert len(grads) == len(ref_grads)
    for a, b in zip(grads, ref_grads):
        _close_fp32(a, b)


@pytest.mark.parametrize("bias", BIASES)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_attention_paths_bf16_autocast_close_to_float64(device, layout, bias):
    block, table = _attention_block(layout, bias)
    x = torch.randn(2, GRID, GRID, 32, generator=torch.Generator().manual_seed(1))
    ref_out, ref_grads = _attention_run(block.double(), None if table is None else table.double(),
                                        x.double(), use_sdpa=False)
    block.float().to(device)
    table = table.float().to(device) if table is not None else None
    for use_sdpa in (False, True):
        with autocast(device, torch.bfloat16):
            out, grads = _attention_run(block, table, x.to(device), use_sdpa)
        assert torch.isfinite(out).all()
        err = _rel_err(out, ref_out)
        assert err <= BF16_OUT_TOL, (use_sdpa, "output", err)
        for i, (g, r) in enumerate(zip(grads, ref_grads)):
            assert g.dtype == torch.float32  # gradients of fp32 parameters stay fp32
            err = _rel_err(g, r)
            assert err <= BF16_GRAD_TOL, (use_sdpa, f"grad {i}", err)


def test_query_blocked_attention_is_cpu_only(device, monkeypatch):
    """At or above the threshold the CPU takes the query-blocked kernel; CUDA keeps SDPA."""
    calls = []
    real = A.chunked_attention
    monkeypatch.setattr(A, "chunked_attention", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(A, "CPU_CHUNKED_MIN_TOKENS", 16)
    m = A.Attention(16, num_heads=2).to(device)
    out = m(torch.randn(1, 4, 4, 16, device=device))
    assert out.shape == (1, 4, 4, 16)
    assert len(calls) == (1 if device == "cpu" else 0)
    assert A.uses_chunked_attention(True, device, 4096) == (device == "cpu")


# ------------------------------------------------------- whole detector, AMP step
def _demo_model(device, size=128, part="model"):
    """The demo detector (or its ``part``, e.g. "backbone") at ``size`` on ``device``: built
    on the CPU and moved, as the trainer does."""
    cfg = LazyConfig.load(DEMO)
    cfg.model.backbone.bottom_up.net.img_size = size
    cfg.model.backbone.square_pad = size
    return instantiate(cfg.model if part == "model" else cfg.model[part]).to(device)


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_detector_training_step_under_amp(device, amp):
    """Finite loss, a finite gradient on every trainable parameter, and (fp16) a GradScaler
    step that is applied: the step a user's AMP training runs."""
    if amp == "fp16" and device == "cpu":
        pytest.skip("fp16 autocast on the CPU is emulated (minutes per detector step) and "
                    "nobody trains so; the fp16 + GradScaler step is a CUDA path")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    torch.manual_seed(0)
    model = _demo_model(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    scaler = torch.amp.GradScaler(torch.device(device).type, enabled=amp == "fp16")
    batch = measure.synthetic_batch(128, 2, model.roi_heads.num_classes)
    applied = 0
    with EventStorage(0):
        for _ in range(4):  # fp16: the first steps may overflow at the initial scale (skipped)
            before = [p.detach().clone() for p in params]
            with autocast(device, dtype):
                losses = model(batch)
            loss = sum(losses.values())
            assert torch.isfinite(loss), {k: float(v) for k, v in losses.items()}
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
            assert not missing, missing
            finite = all(torch.isfinite(p.grad).all() for p in params)
            assert finite or amp == "fp16"  # only a scaled fp16 backward may overflow
            scaler.step(opt)
            scaler.update()
            changed = any(not torch.equal(a, p.detach()) for a, p in zip(before, params))
            assert changed == finite  # a step is taken exactly when the gradients are finite
            applied += finite
            if applied and amp == "bf16":
                break
    assert applied >= 1
    if amp == "fp16":
        assert 0 < scaler.get_scale() <= 2.0 ** 16


# --------------------------------------------- backbones at 1024, every strategy
FAMILIES = {
    # family: (full-size config on CUDA, tiny config on CPU, node of the backbone)
    "vit": ("configs/mae_vitb_mrcnn.py", "configs/demo/vit_tiny_shapes.py",
            "model.backbone.bottom_up.net"),
    "convmae": ("projects/ConvMAE/configs/convmae_b_mrcnn_25ep.py",
                "projects/ConvMAE/configs/convmae_tiny_cpu.py", "model.backbone.bottom_up"),
}


def _backbone_at_1024(family, device, strategy, seed=0):
    """The family's backbone at 1024: base size on CUDA (bf16 autocast); on the CPU the tiny
    config's, narrowed to one 32-channel head (fp32), so that the CPU instance takes seconds."""
    full, tiny, node_path = FAMILIES[family]
    cfg = LazyConfig.load(os.path.join(ROOT, full if device == "cuda" else tiny))
    node = cfg
    for part in node_path.split("."):
        node = node[part]
    node.img_size = 1024
    node.attention_strategy = strategy
    node.drop_path_rate = 0.0
    if device == "cpu":  # the 64x64-token global attention is what costs: one narrow head
        if family == "vit":
            node.embed_dim, node.num_heads = 32, 1
        else:
            node.embed_dims, node.num_heads = (16, 24, 32), 1
    torch.manual_seed(seed)
    return instantiate(node).to(device)


def _fwd_bwd_1024(net, device):
    x = torch.randn(1, 3, 1024, 1024, generator=torch.Generator().manual_seed(0)).to(device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with autocast(device, torch.bfloat16 if device == "cuda" else None):
        out = net(x)
        loss = sum((o.float() * torch.linspace(0, 1, o.numel(), device=device).view_as(o)).mean()
                   for o in out.values())
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in net.named_parameters() if p.grad is not None}
    return {k: v.detach().float() for k, v in out.items()}, grads, peak_cuda_gb(device)


@pytest.mark.parametrize("strategy", ATTENTION_STRATEGIES)
@pytest.mark.parametrize("family", list(FAMILIES))
def test_backbone_forward_backward_1024(device, family, strategy):
    net = _backbone_at_1024(family, device, strategy).train()
    out, grads, _ = _fwd_bwd_1024(net, device)
    strides = {k: s.stride for k, s in net.output_shape().items()}
    for k, v in out.items():
        assert v.shape[-1] == 1024 // strides[k], (k, v.shape)
        assert torch.isfinite(v).all(), k
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trainable - set(grads) == set()
    bad = [n for n, g in grads.items() if not torch.isfinite(g).all()]
    assert not bad, bad


@pytest.mark.parametrize("family", list(FAMILIES))
def test_checkpointing_at_1024_same_result_less_memory(device, family):
    """All-global with and without activation checkpointing: same outputs and gradients;
    on CUDA the checkpointed run peaks lower. The CPU instance is skipped: it would repeat
    test_vit_perf_checkpoint.py (same equivalence at 64 px, every block subset, on CPU)."""
    if device == "cpu":
        pytest.skip("CPU: covered at 64 px by test_vit_perf_checkpoint.py; at 1024 it is a "
                    "CUDA memory check")
    plain = _backbone_at_1024(family, device, "global")
    ckpt = _backbone_at_1024(family, device, "global_checkpoint")
    ckpt.load_state_dict(plain.state_dict())
    ref = _fwd_bwd_1024(plain.train(), device)
    got = _fwd_bwd_1024(ckpt.train(), device)
    if device == "cuda":  # bf16: recomputation may round differently (fused backward kernels)
        for k in ref[0]:
            assert _rel_err(got[0][k], ref[0][k]) <= 1e-2, k
        for k in ref[1]:
            assert _rel_err(got[1][k], ref[1][k]) <= 2e-2, k
        assert got[2] < 0.8 * ref[2], (got[2], ref[2])
    else:
        _assert_same(got[:2], ref[:2])


# ----------------------------------------------------------------------- ROIPooler
@pytest.mark.parametrize("pooler_type", ["ROIAlignV2", "ROIAlign"])
@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_roi_pooler_matches_detectron2(device, monkeypatch, pooler_type, sampling_ratio):
    """Same result as detectron2's pooler on the device, and as the CPU gather (outputs and
    gradients of every level); the one-gather ROIAlign runs on the CPU only."""
    calls = []
    real = poolers.roi_align_levels
    monkeypatch.setattr(poolers, "roi_align_levels",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    gen = torch.Generator().manual_seed(sampling_ratio)
    cpu_feats = _pyramid(torch.float32, 4, gen)
    cpu_boxes = [_boxes(25, 128, gen, torch.float32), _boxes(9, 128, gen, torch.float32)]
    feats = [f.detach().to(device).requires_grad_() for f in cpu_feats]
    boxes = [b.to(device) for b in cpu_boxes]
    ours = poolers.ROIPooler(7, SCALES, sampling_ratio, pooler_type)(feats, boxes)
    assert len(calls) == (1 if device == "cpu" else 0)
    ref = D2ROIPooler(7, SCALES, sampling_ratio, pooler_type)(feats, boxes)
    on_cpu = poolers.ROIPooler(7, SCALES, sampling_ratio, pooler_type)(cpu_feats, cpu_boxes)
    assert ours.device.type == torch.device(device).type
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.cpu(), on_cpu, atol=1e-5, rtol=1e-5)
    for a, b, c in zip(_grads(ours, feats), _grads(ref, feats), _grads(on_cpu, cpu_feats)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(a.cpu(), c, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------- BatchNorm
def test_batchnorm_conversion_for_world_size(device):
    """World size 2: nn.SyncBatchNorm on CUDA, NaiveSyncBatchNorm (works over gloo) on the
    CPU, with the state carried over; world size 1 keeps plain BatchNorm. In one process
    the converted model computes what the original does, on the device, forward and back."""
    torch.manual_seed(0)
    base = _demo_model("cpu", part="backbone")  # ViT + adaptor + BN FPN
    n_bn = sum(type(m) is nn.BatchNorm2d for m in base.modules())
    assert n_bn > 0
    for m in base.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    state = {k: v.clone() for k, v in base.state_dict().items()}
    import copy

    one = convert_batchnorm_for_world(copy.deepcopy(base), 1, device)
    assert sum(type(m) is nn.BatchNorm2d for m in one.modules()) == n_bn
    two = convert_batchnorm_for_world(copy.deepcopy(base), 2, device)
    want = nn.SyncBatchNorm if device == "cuda" else NaiveSyncBatchNorm
    assert sum(type(m) is want for m in two.modules()) == n_bn
    assert not any(type(m) is nn.BatchNorm2d for m in two.modules())
    for k, v in two.state_dict().items():
        torch.testing.assert_close(v, state[k], rtol=0, atol=0, msg=k)
    # one process: the synchronized layers reduce over a world of one, i.e. plain BatchNorm
    fpn_ref = base.to(device)
    fpn_two = two.to(device)
    x = torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(2)).to(device)
    for train in (False, True):
        fpn_ref.train(train)
        fpn_two.train(train)
        a, b = fpn_ref(x), fpn_two(x)
        for k in a:
            torch.testing.assert_close(b[k], a[k], atol=1e-5, rtol=1e-5)
        ga = torch.autograd.grad(sum(v.sum() for v in a.values()), list(fpn_ref.parameters()))
        gb = torch.autograd.grad(sum(v.sum() for v in b.values()), list(fpn_two.parameters()))
        for u, v in zip(gb, ga):
            torch.testing.assert_close(u, v, atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------- tools/train_net.py
@pytest.mark.slow
def test_train_net_demo_config_on_device(device, tmp_path):
    """The demo config trains a few iterations on ``train.device=<device>`` and evaluates
    (on 8 shapes_val images: tests/engine_fixtures/demo_quick_eval.py).

    On CUDA with AMP on (fp16 + GradScaler through detectron2's AMPTrainer) and the
    weights in the default layout; on the CPU AMP is dropped with a notice and the
    convolution weights go channels-last."""
    out = tmp_path / "demo"
    cfg = os.path.join(ROOT, "tests", "engine_fixtures", "demo_quick_eval.py")
    cmd = [sys.executable, os.path.join(ROOT, "tools", "train_net.py"), "--config-file", cfg,
           f"train.device={device}", "train.max_iter=3", "train.warmup_iters=1",
           "train.amp.enabled=True", "train.checkpointer.period=100", "train.log_period=1",
           "dataloader.train.num_workers=0", "dataloader.test.num_workers=0",
           f"train.output_dir={out}"]
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONPATH=os.pathsep.join(
        [ROOT, os.path.join(ROOT, "tests")] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT, env=env)
    log = p.stdout + p.stderr
    assert p.returncode == 0, log[-4000:]
    assert ("AMP needs CUDA" in log) == (device == "cpu")
    assert ("channels-last" in log) == (device == "cpu")
    assert "CUDA is not available" not in log
    rows = [json.loads(line) for line in open(out / "metrics.json") if line.strip()]
    losses = {r["iteration"]: r["total_loss_raw"] for r in rows if "total_loss_raw" in r}
    assert sorted(losses) == [0, 1, 2]
    assert all(v == v and abs(v) < 1e4 for v in losses.values()), losses
    report = json.loads((out / "report.json").read_text())
    assert "bbox" in json.dumps(report) and "segm" in json.dumps(report)
    assert (out / "model_final.pth").is_file()


# --------------------------------------------------- benchmark tool: peak per phase
class _TransientInInference(nn.Module):
    """Backbone-shaped module whose inference pass holds a large temporary, training does not."""

    def __init__(self, gb):
        super().__init__()
        self.gb = gb
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        if not self.training:
            big = torch.ones(int(self.gb * 2**30) // 4, device=x.device)  # touched pages
            x = x + big[:1].view(1, 1, 1, 1)
            del big
        return {"p2": self.conv(x)}


def test_benchmark_resets_peak_memory_between_phases(device):
    """A timing cell (vitdet_bench.measure, what tools/benchmark.py runs) measures the
    inference peak and the training peak separately: the
    inference pass's temporary (1 GB on CUDA, 0.5 GB on the CPU) must not show in the
    training peak (CUDA max allocated; on the CPU, VmHWM reset through /proc/self/clear_refs)."""
    if device == "cpu":
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError as e:
            pytest.skip(f"/proc/self/clear_refs is not writable here ({e}): the CPU peak "
                        "cannot be reset, so the tool reports the process peak")
    settings = measure.CellSettings(device=device, size=32, batch_size=1, amp="none",
                                    target="backbone", flops=False, warmup=0, steps=1)
    gb = 1.0 if device == "cuda" else 0.5
    res = measure.measure_model(_TransientInInference(gb).to(device), settings)
    assert res["status"] == "ok"
    assert res["infer_peak_GB"] >= 0.95 * gb, res
    if device == "cuda":
        assert res["train_peak_GB"] < 0.05, res  # a 4-channel conv on a 32x32 image
    else:  # RSS: the process baseline is in both, the temporary only in inference
        assert res["train_peak_GB"] < res["infer_peak_GB"] - 0.8 * gb, res
