"""Every bad checkpoint stops with a message naming the file and the offending keys."""

import pytest
import torch

import checkpoint_fixtures as F
from vitdet_bench.checkpoint import CheckpointError, load_pretrained, register_format
from vitdet_bench.utils.io import atomic_torch_save, atomic_write_bytes


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_pretrained(F.our_vit(), tmp_path / "nope.pth")


def test_truncated_file(tmp_path):
    F.make_deit(tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    atomic_write_bytes(tmp_path / "cut.pth", data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pth.*truncated or not a PyTorch checkpoint"):
        load_pretrained(F.our_vit(), tmp_path / "cut.pth")


def test_not_a_checkpoint(tmp_path):
    atomic_write_bytes(tmp_path / "notes.pth", b"hello, this is text\n" * 10)
    with pytest.raises(CheckpointError, match="notes.pth"):
        load_pretrained(F.our_vit(), tmp_path / "notes.pth")
    atomic_torch_save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="list.pth.*expected a dict"):
        load_pretrained(F.our_vit(), tmp_path / "list.pth")


def test_unknown_layout(tmp_path):
    sd = {"conv1.weight": torch.zeros(8, 3, 7, 7), "layer1.0.conv1.weight": torch.zeros(8, 8, 1, 1)}
    atomic_torch_save({"model": sd}, tmp_path / "resnet.pth")
    # a torchvision ResNet layout is recognised (vitdet_bench.checkpoint.resnet): the error
    # names the file and what the model lacks
    with pytest.raises(CheckpointError, match=r"resnet.pth: a ResNet checkpoint needs a detectron2 "
                                              r"ResNet backbone; ViT has none"):
        load_pretrained(F.our_vit(), tmp_path / "resnet.pth")
    odd = {"stem_w": torch.zeros(8, 3, 7, 7), "head.kernel": torch.zeros(8, 8, 1, 1)}
    atomic_torch_save({"model": odd}, tmp_path / "odd.pth")
    with pytest.raises(CheckpointError, match=r"odd.pth: unknown checkpoint layout.*stem_w"):
        load_pretrained(F.our_vit(), tmp_path / "odd.pth")
    # forced to a format, it has no overlap at all
    with pytest.raises(CheckpointError, match=r"resnet.pth: this file looks like 'resnet_torchvision'"
                                              r".*'supervised' was asked for"):
        load_pretrained(F.our_vit(), tmp_path / "resnet.pth", format="supervised")
    with pytest.raises(CheckpointError, match=r"resnet.pth: checkpoint of another architecture.*none"):
        load_pretrained(F.our_vit(), tmp_path / "resnet.pth", format="supervised",
                        strict_architecture=False)


def test_shape_that_cannot_be_resized(tmp_path):
    F.make_deit(tmp_path / "deit_small.pth")  # embed 64
    with pytest.raises(CheckpointError, match=r"deit_small.pth.*blocks.0.attn.qkv.weight: checkpoint \(192, 64\)"):
        load_pretrained(F.our_vit(embed_dim=128), tmp_path / "deit_small.pth")


def test_depth_mismatch_strict_and_lenient(tmp_path):
    F.make_deit(tmp_path / "deit.pth")  # depth 2
    with pytest.raises(CheckpointError, match=r"deit.pth.*missing from it: \['blocks.2"):
        load_pretrained(F.our_vit(depth=3, out_block_indexes=(2,)), tmp_path / "deit.pth")
    rep = load_pretrained(F.our_vit(depth=3, out_block_indexes=(2,)), tmp_path / "deit.pth",
                          strict_architecture=False)
    assert any(k.startswith("blocks.2.") and "own init" in how for k, how in rep.initialized)
    with pytest.raises(CheckpointError, match=r"no place in the model: \['blocks.1"):
        load_pretrained(F.our_vit(depth=1, out_block_indexes=(0,)), tmp_path / "deit.pth")


def test_beit_into_model_without_layer_scale(tmp_path):
    F.make_beit(tmp_path / "beit.pth")
    with pytest.raises(CheckpointError, match=r"beit.pth.*gamma_1"):
        load_pretrained(F.our_vit(use_abs_pos=False, rel_pos="shared"), tmp_path / "beit.pth")


def test_random_needs_explicit_choice(tmp_path):
    with pytest.raises(CheckpointError, match="selected explicitly"):
        load_pretrained(F.our_vit(), "")
    with pytest.raises(CheckpointError, match="unknown format"):
        F.make_deit(tmp_path / "d.pth")
        load_pretrained(F.our_vit(), tmp_path / "d.pth", format="simclr")


def test_registered_format_wins(tmp_path):
    calls = []

    def detect(raw):
        return "convmae_marker" in raw

    def convert(sd, net, report):
        calls.append(sorted(sd))
        report.ignored.append(("extra", "test rule"))
        return {k: v for k, v in sd.items() if k != "extra"}

    register_format("test_fmt", detect, convert)
    net = F.our_vit()
    sd = {k: v.clone() for k, v in net.state_dict().items()}
    sd["extra"] = torch.zeros(1)
    atomic_torch_save({"model": sd, "convmae_marker": 1}, tmp_path / "x.pth")
    rep = load_pretrained(F.our_vit(), tmp_path / "x.pth")
    assert rep.format == "test_fmt" and calls and ("extra", "test rule") in rep.ignored
