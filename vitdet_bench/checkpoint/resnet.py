"""Supervised ImageNet-1k ResNet checkpoints for detectron2's ``ResNet`` backbone.

The ResNet baselines of the complexity comparison (Li et al. 2021, ``configs/resnet/``)
start from random weights or from a supervised ImageNet-1k ResNet-50/101. Three public
layouts are read through the same registry, load report and errors as the ViT formats:

* ``resnet_torchvision``: a torchvision ``ResNet.state_dict()`` (``conv1``, ``bn1``,
  ``layer1.0.conv1`` ... ``fc``), e.g. ``resnet50-0676ba61.pth``;
* ``resnet_detectron2``: detectron2's key names (``stem.conv1``, ``res2.0.conv1.norm`` ...),
  e.g. the ``R-50.pkl`` that detectron2's ``tools/convert-torchvision-to-d2.py`` writes
  (``{'model': numpy arrays, '__author__': 'torchvision', 'matching_heuristics': True}``);
* ``resnet_caffe2``: the MSRA Caffe2 blobs of detectron2's ``ImageNetPretrained/MSRA/R-50.pkl``
  / ``R-101.pkl`` (``conv1_w``, ``res_conv1_bn_s``, ``res2_0_branch2a_w`` ...), whose
  BatchNorm is an affine map with the statistics folded in: the running mean starts at
  0 and the running variance at ``1 - eps``, as detectron2's ``FrozenBatchNorm2d`` starts,
  so the loaded BN computes exactly ``x * s + b``.

Architecture: torchvision's and the converted files stride in the 3x3 conv
(``stride_in_1x1=False``) and expect RGB input normalized by ImageNet mean/std; the MSRA
files stride in the 1x1 conv (``stride_in_1x1=True``) and expect BGR input with std 1.
The weights do not tell the two apart, so the config must say which (``configs/resnet/``).
"""
from __future__ import annotations

import re
from typing import Dict, Optional

import torch
import torch.nn as nn

from .loader import register_format
from .report import CheckpointError, LoadReport

__all__ = ["find_resnet", "torchvision_to_detectron2_key", "caffe2_to_detectron2_key",
           "convert_resnet_torchvision", "convert_resnet_detectron2", "convert_resnet_caffe2"]

_CLASSIFIER = "ImageNet classifier (the detector has no use for it)"


def find_resnet(model: nn.Module) -> nn.Module:
    """The first detectron2 ``ResNet`` in ``model`` (``backbone.bottom_up`` of an FPN detector)."""
    from detectron2.modeling.backbone import ResNet

    for m in model.modules():
        if isinstance(m, ResNet):
            return m
    raise CheckpointError(
        f"a ResNet checkpoint needs a detectron2 ResNet backbone; {type(model).__name__} has none "
        "(is train.init_format / the config's backbone the intended one?)")


# --------------------------------------------------------------- key mapping
_TV_BLOCK = re.compile(r"^layer([1-4])\.(\d+)\.(.+)$")


def torchvision_to_detectron2_key(key: str) -> Optional[str]:
    """``layer1.0.bn2.weight`` -> ``res2.0.conv2.norm.weight``; None for keys of no ResNet part."""
    if key == "conv1.weight":
        return "stem.conv1.weight"
    if key.startswith("bn1."):
        return "stem.conv1.norm." + key[4:]
    m = _TV_BLOCK.match(key)
    if not m:
        return None
    stage, block, rest = int(m.group(1)) + 1, m.group(2), m.group(3)
    rest = re.sub(r"^bn(\d)\.", r"conv\1.norm.", rest)
    rest = rest.replace("downsample.0.", "shortcut.").replace("downsample.1.", "shortcut.norm.")
    return f"res{stage}.{block}.{rest}"


_C2_BN = {"s": "weight", "b": "bias", "rm": "running_mean", "riv": "running_var"}
_C2_BLOCK = re.compile(r"^res([2-5])_(\d+)_branch(1|2a|2b|2c)_(w|bn_s|bn_b|bn_rm|bn_riv)$")
_C2_BRANCH = {"1": "shortcut", "2a": "conv1", "2b": "conv2", "2c": "conv3"}


def caffe2_to_detectron2_key(key: str) -> Optional[str]:
    """``res2_0_branch2a_bn_s`` -> ``res2.0.conv1.norm.weight`` (detectron2's Caffe2 names)."""
    if key == "conv1_w":
        return "stem.conv1.weight"
    m = re.match(r"^res_conv1_bn_(s|b|rm|riv)$", key)
    if m:
        return "stem.conv1.norm." + _C2_BN[m.group(1)]
    m = _C2_BLOCK.match(key)
    if not m:
        return None
    stage, block, branch, part = m.groups()
    name = f"res{stage}.{block}.{_C2_BRANCH[branch]}"
    return name + ".weight" if part == "w" else f"{name}.norm.{_C2_BN[part[3:]]}"


# ------------------------------------------------------------------- formats
def _sd(raw: dict) -> dict:
    for wrapper in ("model", "state_dict", "blobs"):
        if isinstance(raw.get(wrapper), dict):
            return raw[wrapper]
    return raw


def detect_resnet_torchvision(raw: dict) -> bool:
    sd = _sd(raw)
    return "conv1.weight" in sd and "layer1.0.conv1.weight" in sd


def detect_resnet_detectron2(raw: dict) -> bool:
    sd = _sd(raw)
    return "stem.conv1.weight" in sd and "res2.0.conv1.weight" in sd


def detect_resnet_caffe2(raw: dict) -> bool:
    sd = _sd(raw)
    return "conv1_w" in sd and "res2_0_branch2a_w" in sd


def _convert(state_dict, report: LoadReport, to_d2, classifier) -> Dict[str, torch.Tensor]:
    out = {}
    for key, value in state_dict.items():
        if classifier(key):
            report.ignored.append((key, _CLASSIFIER))
            continue
        if key.endswith("_momentum"):
            report.ignored.append((key, "Caffe2 solver momentum (training state)"))
            continue
        new = to_d2(key)
        # unknown keys pass through unmapped: the loader reports them as unexpected
        out[new if new is not None else key] = value
    return out


def convert_resnet_torchvision(state_dict, net, report):
    return _convert(state_dict, report, torchvision_to_detectron2_key,
                    lambda k: k.startswith("fc."))


def convert_resnet_detectron2(state_dict, net, report):
    # tools/convert-torchvision-to-d2.py prefixes every non-layer key with "stem.", fc included
    return _convert(state_dict, report, lambda k: k,
                    lambda k: k.startswith(("stem.fc.", "fc.", "linear.")))


def convert_resnet_caffe2(state_dict, net, report):
    # The BN statistics the file lacks are set by the loader's fresh rules (mean 0,
    # variance 1 - eps): Caffe2's BN is an affine map with them folded into s and b.
    return _convert(state_dict, report, caffe2_to_detectron2_key,
                    lambda k: k.startswith(("fc1000_", "pred_")))


# Registered after the ViT formats: tried first, and none of them claims ViT keys.
register_format("resnet_torchvision", detect_resnet_torchvision, convert_resnet_torchvision,
                find_net=find_resnet)
register_format("resnet_detectron2", detect_resnet_detectron2, convert_resnet_detectron2,
                find_net=find_resnet)
register_format("resnet_caffe2", detect_resnet_caffe2, convert_resnet_caffe2, find_net=find_resnet)
