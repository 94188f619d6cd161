"""ResNet checkpoints (torchvision / detectron2-converted / MSRA Caffe2 layouts) load into
detectron2's ResNet and compute torchvision's features; bad files fail clearly.

The files are written here from a torchvision ResNet with random weights (and random
BatchNorm statistics), in each public layout; the layouts are produced the way their
tools produce them (torchvision's ``state_dict``, detectron2's
``tools/convert-torchvision-to-d2.py`` renaming, Caffe2 blob names with BN folded into an
affine scale / bias), independently of the loader's key mapping.
"""
import pickle

import pytest
import torch
import torch.nn as nn

import vitdet_bench  # noqa: F401
from detectron2.modeling.backbone import BasicStem, BottleneckBlock, ResNet
from torchvision.models.resnet import Bottleneck, ResNet as TVResNet, resnet50

from vitdet_bench.checkpoint import CheckpointError, load_pretrained


def _randomize(tv: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in tv.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            elif isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, generator=g)
    return tv.eval()


def _d2_resnet(blocks, stride_in_1x1=False):
    """detectron2's ResNet with ``blocks`` bottleneck blocks per stage (BN, trainable)."""
    stages = []
    ins, outs = [64, 256, 512, 1024], [256, 512, 1024, 2048]
    for n, s, i, o in zip(blocks, [1, 2, 2, 2], ins, outs):
        stages.append(ResNet.make_stage(BottleneckBlock, n, in_channels=i, out_channels=o,
                                        bottleneck_channels=o // 4, stride_per_block=[s] + [1] * (n - 1),
                                        norm="BN", stride_in_1x1=stride_in_1x1))
    return ResNet(BasicStem(3, 64, norm="BN"), stages, out_features=["res2", "res3", "res4", "res5"],
                  freeze_at=0).eval()


def _tv_features(tv, x):
    x = tv.maxpool(tv.relu(tv.bn1(tv.conv1(x))))
    out = {}
    for i in range(1, 5):
        x = getattr(tv, f"layer{i}")(x)
        out[f"res{i + 1}"] = x
    return out


# ---------------------------------------------------------------- the layouts
def _save_torchvision(tv, path):
    torch.save(tv.state_dict(), path)


def _save_d2_converted(tv, path):
    # detectron2 tools/convert-torchvision-to-d2.py: string renames, numpy arrays, "stem." prefix
    new = {}
    for k, v in tv.state_dict().items():
        if "layer" not in k:
            k = "stem." + k
        for t in (1, 2, 3, 4):
            k = k.replace(f"layer{t}", f"res{t + 1}")
        for t in (1, 2, 3):
            k = k.replace(f"bn{t}", f"conv{t}.norm")
        k = k.replace("downsample.0", "shortcut").replace("downsample.1", "shortcut.norm")
        new[k] = v.detach().numpy()
    with open(path, "wb") as f:
        pickle.dump({"model": new, "__author__": "torchvision", "matching_heuristics": True}, f)


def _save_caffe2(tv, path, wrap_blobs=True):
    """MSRA blob names; BN folded into an affine (scale s, bias b), no statistics."""
    blobs = {"conv1_w": tv.conv1.weight.detach().numpy()}

    def bn(prefix, m):
        s = m.weight / torch.sqrt(m.running_var + m.eps)
        blobs[prefix + "_bn_s"] = s.detach().numpy()
        blobs[prefix + "_bn_b"] = (m.bias - m.running_mean * s).detach().numpy()

    bn("res_conv1", tv.bn1)
    for li in range(1, 5):
        for bi, blk in enumerate(getattr(tv, f"layer{li}")):
            p = f"res{li + 1}_{bi}_branch"
            for c, br in ((1, "2a"), (2, "2b"), (3, "2c")):
                blobs[f"{p}{br}_w"] = getattr(blk, f"conv{c}").weight.detach().numpy()
                bn(p + br, getattr(blk, f"bn{c}"))
            if blk.downsample is not None:
                blobs[p + "1_w"] = blk.downsample[0].weight.detach().numpy()
                bn(p + "1", blk.downsample[1])
    blobs["fc1000_w"] = tv.fc.weight.detach().numpy()
    blobs["fc1000_b"] = tv.fc.bias.detach().numpy()
    blobs["conv1_w_momentum"] = blobs["conv1_w"] * 0
    with open(path, "wb") as f:
        pickle.dump({"blobs": blobs} if wrap_blobs else blobs, f)


LAYOUTS = {
    "resnet_torchvision": ("r.pth", _save_torchvision),
    "resnet_detectron2": ("R-50.pkl", _save_d2_converted),
    "resnet_caffe2": ("R-50.pkl", _save_caffe2),
}


def _assert_same_features(net, tv, size=64):
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, ref = net(x), _tv_features(tv, x)
    for k in ("res2", "res3", "res4", "res5"):
        scale = ref[k].abs().max().item()
        err = (ours[k] - ref[k]).abs().max().item()
        assert err <= 1e-5 * max(scale, 1.0), (k, err, scale)


@pytest.mark.parametrize("fmt", list(LAYOUTS))
def test_layout_loads_and_matches_torchvision(tmp_path, fmt):
    tv = _randomize(TVResNet(Bottleneck, [2, 1, 1, 1]))
    name, save = LAYOUTS[fmt]
    save(tv, tmp_path / name)
    net = _d2_resnet([2, 1, 1, 1])
    report = load_pretrained(net, tmp_path / name)
    assert report.format == fmt
    assert not report.unexpected
    target = net.state_dict()
    params = {k for k in target if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    assert params <= set(report.loaded)
    ignored = dict(report.ignored)
    assert any("classifier" in rule for rule in ignored.values()), report.ignored
    if fmt == "resnet_caffe2":
        how = dict(report.initialized)
        assert "1 - eps" in how["res2.0.conv1.norm.running_var"]
        assert "conv1_w_momentum" in ignored
    assert "format: " + fmt in str(report)
    _assert_same_features(net.eval(), tv)


def test_full_resnet50_in_a_detector_config(tmp_path):
    """torchvision's real ResNet-50 layout into configs/resnet/r50_mrcnn_in1k.py's backbone."""
    from detectron2.config import LazyConfig, instantiate
    import os

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cfg = LazyConfig.load(os.path.join(repo, "configs", "resnet", "r50_mrcnn_in1k.py"))
    backbone = instantiate(cfg.model.backbone).eval()
    tv = _randomize(resnet50())
    _save_caffe2(tv, tmp_path / "R-50.pkl", wrap_blobs=False)
    report = load_pretrained(backbone, tmp_path / "R-50.pkl")
    assert report.format == "resnet_caffe2"
    assert len(report.loaded) == len([k for k in backbone.bottom_up.state_dict()
                                      if not k.endswith(("running_mean", "running_var",
                                                         "num_batches_tracked"))])
    _assert_same_features(backbone.bottom_up, tv)


# ---------------------------------------------------------------------- errors
def test_depth_mismatch_fails_naming_the_missing_tensors(tmp_path):
    tv = _randomize(TVResNet(Bottleneck, [1, 1, 1, 1]))
    _save_torchvision(tv, tmp_path / "r.pth")
    with pytest.raises(CheckpointError, match=r"model tensors missing from it: \['res2\.1\."):
        load_pretrained(_d2_resnet([2, 1, 1, 1]), tmp_path / "r.pth")
    tv2 = _randomize(TVResNet(Bottleneck, [2, 1, 1, 1]))
    _save_torchvision(tv2, tmp_path / "r2.pth")
    with pytest.raises(CheckpointError, match=r"no place in the model: \['res2\.1\."):
        load_pretrained(_d2_resnet([1, 1, 1, 1]), tmp_path / "r2.pth")


def test_broken_and_foreign_files_fail_clearly(tmp_path):
    net = _d2_resnet([1, 1, 1, 1])
    tv = _randomize(TVResNet(Bottleneck, [1, 1, 1, 1]))
    _save_d2_converted(tv, tmp_path / "R-50.pkl")
    data = (tmp_path / "R-50.pkl").read_bytes()
    (tmp_path / "cut.pkl").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pkl: truncated or not a pickled checkpoint"):
        load_pretrained(net, tmp_path / "cut.pkl")
    with open(tmp_path / "list.pkl", "wb") as f:
        pickle.dump([1, 2, 3], f)
    with pytest.raises(CheckpointError, match="expected a pickled dict, got list"):
        load_pretrained(net, tmp_path / "list.pkl")
    # a ViT checkpoint into a ResNet, and a ResNet checkpoint into a ViT
    from checkpoint_fixtures import make_mae, our_vit

    make_mae(tmp_path / "mae.pth")
    with pytest.raises(CheckpointError, match="no ViT module found"):
        load_pretrained(net, tmp_path / "mae.pth")
    with pytest.raises(CheckpointError, match="needs a detectron2 ResNet backbone"):
        load_pretrained(our_vit(), tmp_path / "R-50.pkl")
    # forcing a ResNet format onto a ViT file: the file's own format is named; loaded
    # leniently anyway, nothing fits
    with pytest.raises(CheckpointError, match="looks like 'mae'.*'resnet_torchvision' was asked"):
        load_pretrained(net, tmp_path / "mae.pth", format="resnet_torchvision")
    with pytest.raises(CheckpointError, match="none of its tensors matches the model"):
        load_pretrained(net, tmp_path / "mae.pth", format="resnet_torchvision",
                        strict_architecture=False)
    # wrong widths (a ResNet-18-like basic-block file)
    from torchvision.models.resnet import BasicBlock

    small = TVResNet(BasicBlock, [1, 1, 1, 1])
    torch.save(small.state_dict(), tmp_path / "r18.pth")
    with pytest.raises(CheckpointError, match="another architecture"):
        load_pretrained(net, tmp_path / "r18.pth")
