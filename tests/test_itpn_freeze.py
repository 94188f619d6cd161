"""The frozen-backbone protocol (train.freeze) for every family: ViT, ConvMAE, iTPN."""
import json
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import vitdet_bench  # noqa: E402,F401
import torch  # noqa: E402
from detectron2.config import LazyConfig, instantiate  # noqa: E402
from detectron2.structures import BitMasks, Boxes, Instances  # noqa: E402
from detectron2.utils.events import EventStorage  # noqa: E402

import convmae  # noqa: E402,F401
import itpn  # noqa: E402,F401
from vitdet_bench.modeling.freeze import apply_freeze, freeze_options, freeze_pretrained  # noqa: E402

CONFIGS = {
    "vit": os.path.join(REPO, "configs", "demo", "vit_tiny_shapes.py"),
    "convmae": os.path.join(REPO, "projects", "ConvMAE", "configs", "convmae_tiny_cpu.py"),
    "itpn": os.path.join(REPO, "projects", "iTPN", "configs", "itpn_tiny_cpu.py"),
    "itpn_fpn": os.path.join(REPO, "projects", "iTPN", "configs", "itpn_tiny_fpn_cpu.py"),
}
NETS = {"vit": "backbone.bottom_up.net", "convmae": "backbone.bottom_up", "itpn": "backbone",
        "itpn_fpn": "backbone.bottom_up"}


def _batch(size=128):
    out = []
    for k in range(2):
        inst = Instances((size, size))
        boxes = torch.tensor([[8.0, 10.0, 60.0, 70.0], [40.0 + k, 30.0, 110.0, 100.0]])
        inst.gt_boxes = Boxes(boxes)
        inst.gt_classes = torch.tensor([0, 2])
        masks = torch.zeros(2, size, size, dtype=torch.bool)
        for i, (x0, y0, x1, y1) in enumerate(boxes.int().tolist()):
            masks[i, y0:y1, x0:x1] = True
        inst.gt_masks = BitMasks(masks)
        out.append({"image": torch.rand(3, size, size) * 255, "instances": inst, "height": size, "width": size})
    return out


def _build(family):
    cfg = LazyConfig.load(CONFIGS[family])
    torch.manual_seed(0)
    model = instantiate(cfg.model)
    return cfg, model


def _train_steps(cfg, model, steps=2):
    cfg.optimizer.params.model = model
    opt = instantiate(cfg.optimizer)
    model.train()
    batch = _batch()
    with EventStorage(0):
        for _ in range(steps):
            loss = sum(model(batch).values())
            opt.zero_grad()
            loss.backward()
            opt.step()
    return opt


@pytest.mark.parametrize("family", ["vit", "convmae", "itpn", "itpn_fpn"])
def test_frozen_trunk_is_bit_identical_and_outside_the_optimizer(family):
    cfg, model = _build(family)
    summary = freeze_pretrained(model, trunk=True)
    net = model.get_submodule(NETS[family])
    frozen = {n for n, _ in summary.frozen}
    prefix = NETS[family] + "."
    trunk_names = {prefix + n for n, _ in net.named_parameters()
                   if family not in ("itpn",) or n.startswith(itpn.TRUNK_PREFIXES)}
    assert frozen == trunk_names and frozen
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = _train_steps(cfg, model)
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    params = dict(model.named_parameters())
    for n in frozen:
        assert id(params[n]) not in in_opt, n
        assert torch.equal(params[n], before[n]), n
        assert params[n].grad is None, n
    changed = [n for n, p in params.items() if n not in frozen and not torch.equal(p, before[n])]
    assert changed and all(id(params[n]) in in_opt for n in changed)
    # frozen modules stay in eval mode after model.train(); the rest trains
    assert model.training
    for name, m in net.named_modules():
        full = (prefix + name).rstrip(".")
        if family == "itpn" and not name.startswith(("patch_embed", "blocks")):
            continue
        assert not m.training, full
    assert model.roi_heads.training and model.proposal_generator.training
    if family == "itpn":
        assert net.training and net.fpn_modules.training  # the pyramid is not frozen
        assert summary.eval_modules == ["backbone.patch_embed", "backbone.blocks"]


def test_frozen_pyramid_of_itpn_separately():
    cfg, model = _build("itpn")
    summary = freeze_pretrained(model, trunk=False, pyramid=True)
    parts = {p for _, p in summary.frozen}
    assert parts == {"pyramid"}
    names = {n for n, _ in summary.frozen}
    assert "backbone.fpn_modules.0.mlp.fc1.weight" in names and "backbone.split_16to8.norm.weight" in names
    assert not any(n.startswith("backbone.blocks.") for n in names)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    _train_steps(cfg, model, steps=1)
    params = dict(model.named_parameters())
    assert all(torch.equal(params[n], before[n]) for n in names)
    assert not torch.equal(params["backbone.blocks.0.mlp.fc1.weight"], before["backbone.blocks.0.mlp.fc1.weight"])
    assert not model.backbone.fpn_modules[0].norm2.training and model.backbone.blocks.training


def test_frozen_batchnorm_keeps_its_statistics():
    # a BN inside a frozen part (none of the trunks has one) must not update its running stats
    cfg, model = _build("vit")
    net = model.backbone.bottom_up.net
    net.extra_bn = torch.nn.BatchNorm1d(4)
    freeze_pretrained(model, trunk=True)
    model.train()
    assert not net.extra_bn.training
    net.extra_bn(torch.randn(8, 4) + 3)
    assert torch.equal(net.extra_bn.running_mean, torch.zeros(4))


def test_pyramid_freeze_without_a_pyramid_is_a_clear_error():
    for family in ("vit", "itpn_fpn"):
        _, model = _build(family)
        with pytest.raises(ValueError, match="no pre-trained pyramid"):
            freeze_pretrained(model, trunk=False, pyramid=True)


def test_config_option_logs_and_records_in_the_load_report(tmp_path, caplog):
    cfg, model = _build("itpn")
    assert dict(cfg.train.freeze) == {"trunk": False, "pyramid": False}  # the option exists, off
    assert apply_freeze(model, *freeze_options(cfg.train.freeze), output_dir=str(tmp_path)) is None
    (tmp_path / "init_report.json").write_text(json.dumps({"path": "x.pth", "format": "itpn"}))
    cfg.train.freeze.trunk = True
    import logging

    with caplog.at_level(logging.INFO, logger="vitdet_bench.freeze"):
        summary = apply_freeze(model, *freeze_options(cfg.train.freeze), output_dir=str(tmp_path))
    assert "Frozen (train.freeze)" in caplog.text and "backbone.blocks.{" in caplog.text
    report = json.loads((tmp_path / "init_report.json").read_text())
    assert report["format"] == "itpn"
    assert report["frozen"]["num_frozen_parameters"] == summary.num_frozen > 0
    assert ["backbone.absolute_pos_embed", "trunk"] in report["frozen"]["frozen"]
    cfg.train.freeze = {"trunk": True, "neck": True}
    with pytest.raises(ValueError, match="unknown keys"):
        apply_freeze(model, *freeze_options(cfg.train.freeze), output_dir=str(tmp_path))
