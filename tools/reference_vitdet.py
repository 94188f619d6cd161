"""The speed/memory baseline of issue 5: detectron2's ViTDet backbone + simple feature pyramid.

``tools/benchmark.py --reference`` times this next to our backbone, in the same run,
so that the issue's "x% faster, y% less memory than detectron2's ViTDet" is a ratio
of two figures measured minutes apart on the same machine (this 2-core machine's
speed drifts by 10-25% over a day).

When the installed detectron2 ships ViTDet (upstream main: ``detectron2.modeling.ViT``
and ``SimpleFeaturePyramid``), :func:`build_reference` builds *that* model with the
arguments of ``projects/ViTDet/configs/common/coco_loader_lsj`` + ``mask_rcnn_vitdet``
(ViT-B: window 14, global blocks 2/5/8/11, decomposed relative positions, abs pos
from a 224 pre-training grid with a cls token; SFP with channel LayerNorm).
detectron2 0.6 (this machine) predates ViTDet, so the module below re-implements the
same computation in the same straightforward way as upstream's code: the full
``(B*heads, N, N)`` score matrix materialized in every block, the decomposed bias
added out of place, padding/partition through ``F.pad`` + ``permute().contiguous()``,
the 4x/2x branches halving channels. ``tests/test_benchmark_reference.py`` holds its
attention to our ``Attention(decomposed_rel_pos_size=...)`` numerically.
"""
from __future__ import annotations

import math
from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import Mlp

__all__ = ["build_reference", "ReferenceViT", "ReferenceSimpleFeaturePyramid"]


def _rel_pos(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """Per-offset embeddings along one axis, as upstream's ``get_rel_pos``: a table built
    for another grid (e.g. global blocks at an input other than ``img_size``) is first
    resampled linearly to ``2 * max(q, k) - 1`` rows; offsets of unequal query/key
    sizes are scaled to the longer axis."""
    length = 2 * max(q_size, k_size) - 1
    if rel_pos.shape[0] != length:
        rel_pos = F.interpolate(rel_pos.reshape(1, rel_pos.shape[0], -1).permute(0, 2, 1),
                                size=length, mode="linear").reshape(-1, length).permute(1, 0)
    q = torch.arange(q_size)[:, None] * max(k_size / q_size, 1.0)
    k = torch.arange(k_size)[None, :] * max(q_size / k_size, 1.0)
    coords = (q - k) + (k_size - 1) * max(q_size / k_size, 1.0)
    return rel_pos[coords.long()]


def _add_decomposed_rel_pos(attn, q, rel_pos_h, rel_pos_w, hw: Tuple[int, int]):
    h, w = hw
    Rh, Rw = _rel_pos(h, h, rel_pos_h), _rel_pos(w, w, rel_pos_w)
    B, _, dim = q.shape
    r_q = q.reshape(B, h, w, dim)
    rel_h = torch.einsum("bhwc,hkc->bhwk", r_q, Rh)
    rel_w = torch.einsum("bhwc,wkc->bhwk", r_q, Rw)
    attn = attn.view(B, h, w, h, w) + rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]
    return attn.view(B, h * w, h * w)


class _Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int, input_size: Tuple[int, int]):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos_h = nn.Parameter(torch.zeros(2 * input_size[0] - 1, head_dim))
        self.rel_pos_w = nn.Parameter(torch.zeros(2 * input_size[1] - 1, head_dim))

    def forward(self, x):
        B, H, W, _ = x.shape
        qkv = self.qkv(x).reshape(B, H * W, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, B * self.num_heads, H * W, -1).unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = _add_decomposed_rel_pos(attn, q, self.rel_pos_h, self.rel_pos_w, (H, W))
        attn = attn.softmax(dim=-1)
        x = (attn @ v).view(B, self.num_heads, H, W, -1).permute(0, 2, 3, 1, 4).reshape(B, H, W, -1)
        return self.proj(x)


def _partition(x, ws: int):
    B, H, W, C = x.shape
    ph, pw = (ws - H % ws) % ws, (ws - W % ws) % ws
    if ph or pw:
        x = F.pad(x, (0, 0, 0, pw, 0, ph))
    Hp, Wp = H + ph, W + pw
    x = x.view(B, Hp // ws, ws, Wp // ws, ws, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, C), (Hp, Wp)


def _unpartition(windows, ws: int, pad_hw, hw):
    Hp, Wp = pad_hw
    H, W = hw
    B = windows.shape[0] // (Hp * Wp // ws // ws)
    x = windows.view(B, Hp // ws, Wp // ws, ws, ws, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).contiguous().view(B, Hp, Wp, -1)
    return x[:, :H, :W, :].contiguous() if (Hp > H or Wp > W) else x


class _Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, window_size: int, grid: Tuple[int, int]):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _Attention(dim, num_heads, grid if window_size == 0 else (window_size,) * 2)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(in_features=dim, hidden_features=dim * 4, act_layer=nn.GELU)
        self.window_size = window_size

    def forward(self, x):
        shortcut = x
        x = self.norm1(x)
        if self.window_size > 0:
            H, W = x.shape[1], x.shape[2]
            x, pad_hw = _partition(x, self.window_size)
        x = self.attn(x)
        if self.window_size > 0:
            x = _unpartition(x, self.window_size, pad_hw, (H, W))
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class ReferenceViT(nn.Module):
    """ViTDet's plain ViT: windowed blocks except ``global_blocks``, output at stride 16."""

    def __init__(self, img_size: int = 1024, embed_dim: int = 768, depth: int = 12,
                 num_heads: int = 12, window_size: int = 14,
                 global_blocks: Sequence[int] = (2, 5, 8, 11), pretrain_img_size: int = 224):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, embed_dim, kernel_size=16, stride=16)
        self.pos_embed = nn.Parameter(torch.zeros(1, (pretrain_img_size // 16) ** 2 + 1, embed_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        grid = (img_size // 16, img_size // 16)
        self.blocks = nn.ModuleList(
            _Block(embed_dim, num_heads, 0 if i in global_blocks else window_size, grid)
            for i in range(depth))
        self.embed_dim = embed_dim

    def forward(self, x):
        x = self.patch_embed(x).permute(0, 2, 3, 1)
        h, w = x.shape[1:3]
        pos = self.pos_embed[:, 1:]  # drop the cls token's embedding
        s = int(math.sqrt(pos.shape[1]))
        pos = F.interpolate(pos.reshape(1, s, s, -1).permute(0, 3, 1, 2), size=(h, w),
                            mode="bicubic", align_corners=False).permute(0, 2, 3, 1)
        x = x + pos
        for blk in self.blocks:
            x = blk(x)
        return x.permute(0, 3, 1, 2)


class _ChannelLayerNorm(nn.Module):
    """detectron2's "LN" norm for conv maps: LayerNorm over channels, computed as upstream
    does (explicit mean and variance), not with the library's cheaper ``LayerNorm2d``, so
    the baseline costs what upstream's costs."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class ReferenceSimpleFeaturePyramid(nn.Module):
    """ViTDet's simple feature pyramid: p2..p5 from the last map, p6 by max pooling."""

    def __init__(self, net: ReferenceViT, out_channels: int = 256):
        super().__init__()
        self.net = net
        dim = net.embed_dim
        self.stages = nn.ModuleList()
        for scale in (4.0, 2.0, 1.0, 0.5):
            if scale == 4.0:
                layers = [nn.ConvTranspose2d(dim, dim // 2, 2, stride=2), _ChannelLayerNorm(dim // 2),
                          nn.GELU(), nn.ConvTranspose2d(dim // 2, dim // 4, 2, stride=2)]
                out_dim = dim // 4
            elif scale == 2.0:
                layers, out_dim = [nn.ConvTranspose2d(dim, dim // 2, 2, stride=2)], dim // 2
            elif scale == 1.0:
                layers, out_dim = [], dim
            else:
                layers, out_dim = [nn.MaxPool2d(kernel_size=2, stride=2)], dim
            layers += [nn.Conv2d(out_dim, out_channels, 1, bias=False), _ChannelLayerNorm(out_channels),
                       nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
                       _ChannelLayerNorm(out_channels)]
            self.stages.append(nn.Sequential(*layers))

    def forward(self, x) -> Dict[str, torch.Tensor]:
        feat = self.net(x)
        outs = [stage(feat) for stage in self.stages]
        outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return {f"p{i}": o for i, o in zip(range(2, 7), outs)}


def _upstream(img_size, embed_dim, depth, num_heads, window_size, global_blocks):
    """detectron2 main's own ViTDet modules, or None on a detectron2 without them (0.6)."""
    try:
        from detectron2.modeling import SimpleFeaturePyramid, ViT
        from detectron2.modeling.backbone.fpn import LastLevelMaxPool
    except ImportError:
        return None
    vit = ViT(img_size=img_size, patch_size=16, embed_dim=embed_dim, depth=depth,
              num_heads=num_heads, mlp_ratio=4, qkv_bias=True,
              norm_layer=lambda d: nn.LayerNorm(d, eps=1e-6), window_size=window_size,
              window_block_indexes=[i for i in range(depth) if i not in global_blocks],
              use_rel_pos=True, out_feature="last_feat")
    return SimpleFeaturePyramid(vit, in_feature="last_feat", out_channels=256,
                                scale_factors=(4.0, 2.0, 1.0, 0.5), top_block=LastLevelMaxPool(),
                                norm="LN", square_pad=img_size)


def build_reference(img_size: int = 1024, embed_dim: int = 768, depth: int = 12,
                    num_heads: int = 12, window_size: int = 14,
                    global_blocks: Sequence[int] = (2, 5, 8, 11)) -> Tuple[nn.Module, str]:
    """(model, origin): upstream detectron2's ViTDet if installed, else the re-implementation."""
    model = _upstream(img_size, embed_dim, depth, num_heads, window_size, global_blocks)
    if model is not None:
        return model, "detectron2.modeling.ViT + SimpleFeaturePyramid (upstream)"
    net = ReferenceViT(img_size, embed_dim, depth, num_heads, window_size, global_blocks)
    return ReferenceSimpleFeaturePyramid(net), "tools/reference_vitdet.py (detectron2 ViTDet re-implemented)"
