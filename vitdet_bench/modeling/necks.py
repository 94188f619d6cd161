"""From single-scale ViT tokens to the multi-scale maps Mask R-CNN expects.

Two published recipes:

* :class:`MultiScaleAdaptor` + :class:`ViTFPN` — "Benchmarking Detection Transfer
  Learning with ViTs" (Li et al. 2021, section 3.1): the outputs of blocks d/4,
  d/2, 3d/4 and d are resampled to strides 4, 8, 16, 32 (4x: two stride-2
  transposed convs with GroupNorm + GELU between; 2x: one transposed conv; 1x:
  identity; 0.5x: 2x2 max pool) and feed a standard FPN (BatchNorm convs, P6 by
  max pooling).
* :class:`SimpleFeaturePyramid` — ViTDet (Li et al. 2022): the last feature map
  alone is resampled to the four scales, each followed by 1x1 and 3x3 convs.

Both pad inputs to a square (``square_pad``), as ViTDet does, in a way that
works on detectron2 0.6 (``size_divisibility``) and on main (``padding_constraints``).
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn

from detectron2.layers import Conv2d, ShapeSpec
from detectron2.modeling import Backbone
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool

from ..layers.norm import LayerNorm2d, get_norm

__all__ = ["MultiScaleAdaptor", "ViTFPN", "SimpleFeaturePyramid", "build_vit_fpn", "resampled_channels",
           "resample_module"]


def resample_module(scale: float, channels: int, norm: str = "GN", narrow: bool = False) -> nn.Module:
    """One per-scale branch: 4x, 2x, 1x or 0.5x.

    ``narrow=False`` keeps ``channels`` (the Benchmarking adaptor); ``narrow=True`` narrows
    the map as it enlarges it, as ViTDet's simple pyramid does (4x: c -> c/2 -> c/4,
    2x: c -> c/2); :func:`resampled_channels` gives the output width.
    """
    if scale == 4.0:
        mid = channels // 2 if narrow else channels
        out = channels // 4 if narrow else channels
        # 32 groups as usual; fewer when a small model has fewer channels.
        mid_norm = nn.GroupNorm(math.gcd(32, mid), mid) if norm == "GN" else LayerNorm2d(mid)
        return nn.Sequential(
            nn.ConvTranspose2d(channels, mid, kernel_size=2, stride=2),
            mid_norm,
            nn.GELU(),
            nn.ConvTranspose2d(mid, out, kernel_size=2, stride=2),
        )
    if scale == 2.0:
        return nn.ConvTranspose2d(channels, channels // 2 if narrow else channels,
                                  kernel_size=2, stride=2)
    if scale == 1.0:
        return nn.Identity()
    if scale == 0.5:
        return nn.MaxPool2d(kernel_size=2, stride=2)
    raise ValueError(f"scale factor {scale} is not supported (4, 2, 1 or 0.5)")


def resampled_channels(scale: float, channels: int, narrow: bool = False) -> int:
    """Output channels of :func:`resample_module`."""
    return channels // {4.0: 4, 2.0: 2}.get(scale, 1) if narrow else channels


class _SquarePad:
    """Mixin: pad the batch to ``square_pad`` x ``square_pad`` on any detectron2."""

    square_pad: int = 0
    _divisibility: int = 32

    @property
    def size_divisibility(self) -> int:
        # detectron2 0.6 pads to a multiple of this; images <= square_pad then
        # become exactly square_pad x square_pad.
        return self.square_pad or self._divisibility

    @property
    def padding_constraints(self) -> Dict[str, int]:
        # detectron2 main reads this instead.
        return {"size_divisibility": self._divisibility, "square_size": self.square_pad}


class MultiScaleAdaptor(Backbone):
    """Benchmarking-paper adaptor: four ViT block outputs → strides 4/8/16/32 (``c2``..``c5``)."""

    def __init__(
        self,
        net: Backbone,
        in_features: Sequence[str],
        scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
        norm: str = "GN",
    ):
        super().__init__()
        if len(in_features) != len(scale_factors):
            raise ValueError(f"{len(in_features)} in_features for {len(scale_factors)} scale factors")
        shapes = net.output_shape()
        missing = [f for f in in_features if f not in shapes]
        if missing:
            raise ValueError(f"MultiScaleAdaptor: the backbone has no outputs {missing}; it has {list(shapes)}")
        self.net = net
        self.in_features = tuple(in_features)
        self.stages = nn.ModuleList(
            resample_module(s, shapes[f].channels, norm) for f, s in zip(in_features, scale_factors))
        self._out_features, self._out_feature_channels, self._out_feature_strides = [], {}, {}
        for f, s in zip(in_features, scale_factors):
            stride = int(shapes[f].stride / s)
            name = f"c{int(math.log2(stride))}"
            self._out_features.append(name)
            self._out_feature_channels[name] = shapes[f].channels
            self._out_feature_strides[name] = stride

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        feats = self.net(x)
        return {name: stage(feats[f]) for name, stage, f in
                zip(self._out_features, self.stages, self.in_features)}


class ViTFPN(_SquarePad, FPN):
    """detectron2's FPN, padding its input to a square like ViTDet."""

    def __init__(self, *args, square_pad: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.square_pad = square_pad
        self._divisibility = FPN.size_divisibility.fget(self)


class SimpleFeaturePyramid(_SquarePad, Backbone):
    """ViTDet's simple feature pyramid from one stride-16 map (``p2``..``p5`` [+ ``p6``])."""

    def __init__(
        self,
        net: Backbone,
        in_feature: str,
        out_channels: int = 256,
        scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
        norm: str = "LN",
        top_block: Optional[nn.Module] = None,
        square_pad: int = 0,
    ):
        super().__init__()
        shape = net.output_shape()[in_feature]
        self.net = net
        self.in_feature = in_feature
        self.square_pad = square_pad
        dim = shape.channels
        self.stages = nn.ModuleList()
        strides = []
        for scale in scale_factors:
            # ViTDet's branches narrow the map as they enlarge it (unlike the adaptor's).
            layers = [resample_module(scale, dim, "LN" if norm == "LN" else "GN", narrow=True)]
            res_dim = resampled_channels(scale, dim, narrow=True)
            layers += [
                Conv2d(res_dim, out_channels, 1, bias=not norm, norm=get_norm(norm, out_channels)),
                Conv2d(out_channels, out_channels, 3, padding=1, bias=not norm,
                       norm=get_norm(norm, out_channels)),
            ]
            self.stages.append(nn.Sequential(*layers))
            strides.append(int(shape.stride / scale))
        self.top_block = top_block
        self._out_feature_strides = {f"p{int(math.log2(s))}": s for s in strides}
        if top_block is not None:
            last = int(math.log2(strides[-1]))
            for k in range(top_block.num_levels):
                self._out_feature_strides[f"p{last + k + 1}"] = 2 ** (last + k + 1)
        self._out_features = list(self._out_feature_strides)
        self._out_feature_channels = {k: out_channels for k in self._out_features}
        self._divisibility = strides[-1]

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        feat = self.net(x)[self.in_feature]
        results = [stage(feat) for stage in self.stages]
        if self.top_block is not None:
            # detectron2 0.6's LastLevelMaxPool takes the coarsest map.
            results.extend(self.top_block(results[-1]))
        return dict(zip(self._out_features, results))

    def output_shape(self):
        return {k: ShapeSpec(channels=self._out_feature_channels[k],
                             stride=self._out_feature_strides[k]) for k in self._out_features}


def build_vit_fpn(net: Backbone, design: str = "multiscale", out_channels: int = 256,
                  norm: str = "BN", square_pad: int = 1024) -> Backbone:
    """The neck of either recipe around a ViT: "multiscale" (Benchmarking) or "simple" (ViTDet)."""
    if design == "multiscale":
        adaptor = MultiScaleAdaptor(net, in_features=net._out_features[-4:])
        return ViTFPN(bottom_up=adaptor, in_features=adaptor._out_features,
                      out_channels=out_channels, norm=norm, top_block=LastLevelMaxPool(),
                      square_pad=square_pad)
    if design == "simple":
        return SimpleFeaturePyramid(net, in_feature=net._out_features[-1], out_channels=out_channels,
                                    norm=norm, top_block=LastLevelMaxPool(), square_pad=square_pad)
    raise ValueError(f"neck design must be 'multiscale' or 'simple', got {design!r}")
