"""HiViT trunk and iTPN's integral feature pyramid as a detectron2 backbone.

iTPN (Tian et al., CVPR 2023) and HiViT (ICLR 2023), after the official detection code
(sunsmarterjie/iTPN ``det/backbone/iTPN_pixel.py`` / ``iTPN_CLIP.py``), re-implemented on
vitdet_bench's pieces: stage-3 blocks are the library's ``Block`` (library ``Attention``,
optional ViTDet decomposed relative positions, layer scale), the benchmark design feeds the
library's BN FPN.

Trunk (stride 16 after a 4x4 stem and two 2x2 merges; no windows anywhere):

* stem: 4x4 stride-4 conv to C/4, LayerNorm;
* stage 1: ``mlp_depths[0]`` MLP-only blocks ``x + DropPath(Mlp(LN(x)))`` (ratio 3);
* :class:`PatchMerge` (2x2 space-to-depth, sub-cells (0,0), (1,0), (0,1), (1,1); LN;
  bias-free Linear 4d -> 2d); stage 2 at C/2, stride 8; merge again;
* stage 3: absolute position embedding (pre-trained on the 14x14 grid, resized with the
  official ``scale_factor=(Hp + 0.1) / 14`` bicubic formula), ``depth`` global blocks.

The official code keeps each 16x16 patch as a (4x4 inner grid) token; on an image whose
sides are multiples of 16 the 2x2 sub-cells of that layout are exactly the 2x2 cells of
the whole map, so here everything is a ``(B, H, W, C)`` map.

Integral pyramid (``integral_pyramid=True``, the published design)::

    P4' = Linear(C -> fpn)(C4)
    T3  = MLP(PatchSplit(C4) + Linear(C/2 -> fpn, no bias)(C3))
    T2  = MLP(PatchSplit(T3) + Linear(C/4 -> fpn, no bias)(C2))
    P4, P3, P2 = fpn_modules[0..2](P4', T3, T2);  P5 = avgpool2(P4);  P6 = avgpool2(P5)

Module and parameter names mirror the official checkpoints (``blocks.{i}`` counts the two
merge modules), so the pre-training files load key for key (``itpn/checkpoint.py``).
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint
from timm.layers import DropPath, Mlp

from detectron2.layers import ShapeSpec
from detectron2.modeling import Backbone

from vitdet_bench.modeling.backbone.token_stage import (
    Block,
    build_blocks,
    init_decomposed_rel_pos,
    init_vit_weights,
    new_abs_pos_embed,
)

__all__ = ["ITPN", "ITPN_SIZES", "MlpBlock", "PatchMerge", "PatchSplit", "resize_ape",
           "PYRAMID_PREFIXES", "TRUNK_PREFIXES", "bn_fpn_design"]

# Trunk sizes of the released detection configs (det/configs/itpn/*.py):
# embed_dim, (mlp_depth1, mlp_depth2), depth, num_heads, layer scale init, decomposed rel-pos.
ITPN_SIZES = {
    # pixel_itpn_base_{1x,3x}_*.py: iTPN_pixel embed 512, depth 24, 8 heads (mlp depths default 3/3)
    "pixel_b": dict(embed_dim=512, mlp_depths=(3, 3), depth=24, num_heads=8,
                    layer_scale_init_value=0.0, rel_pos=False),
    # clip_itpn_base_3x_ld090_dp030.py: iTPN_CLIP 3/3/24, init_values 0.1, rpe False
    "clip_b": dict(embed_dim=512, mlp_depths=(3, 3), depth=24, num_heads=8,
                   layer_scale_init_value=0.1, rel_pos=False),
    # clip_itpn_large_1x_ld095_dp020.py: iTPN_CLIP 768, 2/2/40, 12 heads, init_values 0.1, rpe True
    "clip_l": dict(embed_dim=768, mlp_depths=(2, 2), depth=40, num_heads=12,
                   layer_scale_init_value=0.1, rel_pos=True),
    # itpn_large_dec512d8b (itpn_pixel/models/models_itpn_mim.py): 768, 2/2/40, 12 heads
    "pixel_l": dict(embed_dim=768, mlp_depths=(2, 2), depth=40, num_heads=12,
                    layer_scale_init_value=0.0, rel_pos=False),
    # HiViT-B (the paper's MAE baseline): 512, 2/2/20, 8 heads
    "hivit_b": dict(embed_dim=512, mlp_depths=(2, 2), depth=20, num_heads=8,
                    layer_scale_init_value=0.0, rel_pos=False),
}

# Parameter-name prefixes (relative to the ITPN module) of the two pre-trained parts.
TRUNK_PREFIXES = ("patch_embed.", "absolute_pos_embed", "blocks.")
PYRAMID_PREFIXES = ("align_dim_16tofpn.", "align_dim_16to8.", "align_dim_8to4.", "split_16to8.",
                    "split_8to4.", "block_16to8.", "block_8to4.", "fpn_modules.")


def resize_ape(pos_embed: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
    """``(1, N, C)`` square-grid embedding -> ``(1, H, W, C)``, as the official detection code.

    ``interpolate(..., scale_factor=((H + 0.1) / n, (W + 0.1) / n), mode="bicubic")``:
    the source coordinates follow the scale factor, not ``size=(H, W)`` (a ~3% stretch).
    The grid is returned as is when it already has the target size.
    """
    n_tokens, dim = pos_embed.shape[1], pos_embed.shape[2]
    n = math.isqrt(n_tokens)
    if n * n != n_tokens:
        raise ValueError(f"absolute_pos_embed has {n_tokens} positions: not a square grid")
    grid = pos_embed.reshape(1, n, n, dim)
    H, W = int(hw[0]), int(hw[1])  # plain ints also under tracing (fvcore)
    if (H, W) == (n, n):
        return grid
    # Resample in at least fp32 (bicubic under AMP), in fp64 for a fp64 model.
    dtype = torch.promote_types(pos_embed.dtype, torch.float32)
    out = F.interpolate(grid.permute(0, 3, 1, 2).to(dtype), scale_factor=((H + 0.1) / n, (W + 0.1) / n),
                        mode="bicubic")
    if tuple(out.shape[-2:]) != (H, W):  # the official code asserts the same
        raise RuntimeError(f"APE resize gave {tuple(out.shape[-2:])}, expected {(H, W)}")
    return out.permute(0, 2, 3, 1).to(pos_embed.dtype)


class MlpBlock(nn.Module):
    """``x + DropPath(gamma_2 * Mlp(LN(x)))`` on a ``(B, H, W, C)`` map (no attention).

    Named as the official ``BlockWithRPE`` without attention (``norm2``, ``mlp.fc1/fc2``,
    ``gamma_2`` with layer scale) so checkpoints load key for key.
    """

    def __init__(self, dim: int, mlp_ratio: float = 4.0, drop_path: float = 0.0,
                 norm_eps: float = 1e-5, layer_scale_init_value: float = 0.0):
        super().__init__()
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(in_features=dim, hidden_features=int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.gamma_2 = (nn.Parameter(torch.full((dim,), float(layer_scale_init_value)))
                        if layer_scale_init_value > 0 else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm2(x))
        if self.gamma_2 is not None:
            y = self.gamma_2 * y
        return x + self.drop_path(y)


class PatchMerge(nn.Module):
    """2x2 space-to-depth, sub-cells concatenated as (row, col) = (0,0), (1,0), (0,1), (1,1);
    then LN(4d) and a bias-free Linear 4d -> 2d. ``(B, H, W, d) -> (B, H/2, W/2, 2d)``."""

    def __init__(self, dim: int, norm_eps: float = 1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(dim * 4, eps=norm_eps)
        self.reduction = nn.Linear(dim * 4, dim * 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x))


class PatchSplit(nn.Module):
    """LN(d_in), bias-free Linear d_in -> 4 fpn, depth-to-space:
    ``out[2h+a, 2w+b] = y[h, w, (2a+b) fpn : (2a+b+1) fpn]``. ``(B, H, W, d) -> (B, 2H, 2W, fpn)``."""

    def __init__(self, dim: int, fpn_dim: int, norm_eps: float = 1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=norm_eps)
        self.reduction = nn.Linear(dim, fpn_dim * 4, bias=False)
        self.fpn_dim = fpn_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, _ = x.shape
        y = self.reduction(self.norm(x)).reshape(B, H, W, 2, 2, self.fpn_dim)
        return y.permute(0, 1, 3, 2, 4, 5).reshape(B, 2 * H, 2 * W, self.fpn_dim)


class ITPN(Backbone):
    """HiViT trunk (+ iTPN integral pyramid): outputs ``p2``..``p6`` or ``c2``..``c5``.

    Args:
        embed_dim, mlp_depths, depth, num_heads: trunk size (``ITPN_SIZES``); stage 1 and 2
            run at C/4 and C/2 channels.
        bridge_mlp_ratio / mlp_ratio: MLP ratio of the stage-1/2 blocks (3) and of stage 3
            and the pyramid's blocks (4).
        drop_path_rate: stochastic depth, linear over the non-merge trunk blocks.
        layer_scale_init_value: > 0 adds layer scale (CLIP-supervised files: 0.1); the
            MLP-only trunk blocks get only ``gamma_2``; pyramid blocks have none (official).
        rel_pos: ViTDet decomposed relative positions in every stage-3 block, sized for the
            pre-training grid (27 entries per axis at 224) and interpolated to the input.
        pretrain_img_size: pre-training input side; sets the APE table (1, (s/16)^2, C) and
            the relative-position tables.
        norm_eps: LayerNorm eps everywhere (1e-5: the detection code's ``nn.LayerNorm``;
            the pre-training code uses 1e-6).
        integral_pyramid: build the pre-trained pyramid (design 1); False gives the trunk
            alone (design 2, for the BN FPN).
        fpn_dim / fpn_depth: pyramid width (256) and MLP blocks per top-down step (1).
        pyramid_init: "pretrained" (the loader requires the checkpoint's pyramid to fit) or
            "random" (the ablation: the checkpoint's pyramid is ignored and reported).
        out_features: default ``p2``..``p6`` with the pyramid, else ``c2``..``c5``
            (``c5`` = 2x2 max pool of ``c4``).
        use_checkpoint: recompute every trunk block in backward (activation checkpointing).
        attention_strategy: None / "global" (every stage-3 block global, as always) or
            "global_checkpoint" (also checkpointing); iTPN has no windowed blocks.
        use_sdpa: fused attention kernels (else the explicit reference path).

    The network adapts to any input size (the APE is resized in every forward), so it
    has no ``img_size``; ``supported_benchmark_options`` says which measurement options
    apply.
    """

    supported_benchmark_options = frozenset({"attention_strategy", "use_sdpa"})
    supported_attention_strategies = ("global", "global_checkpoint")

    def __init__(
        self,
        embed_dim: int = 512,
        mlp_depths: Sequence[int] = (3, 3),
        depth: int = 24,
        num_heads: int = 8,
        bridge_mlp_ratio: float = 3.0,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.05,
        layer_scale_init_value: float = 0.0,
        rel_pos: bool = False,
        pretrain_img_size: int = 224,
        in_chans: int = 3,
        norm_eps: float = 1e-5,
        integral_pyramid: bool = True,
        fpn_dim: int = 256,
        fpn_depth: int = 1,
        pyramid_init: str = "pretrained",
        out_features: Optional[Sequence[str]] = None,
        use_checkpoint: bool = False,
        attention_strategy: Optional[str] = None,
        use_sdpa: bool = True,
    ):
        super().__init__()
        if embed_dim % 4:
            raise ValueError(f"ITPN embed_dim={embed_dim} must be divisible by 4 (stages run at C/4, C/2, C)")
        if len(mlp_depths) != 2:
            raise ValueError(f"ITPN mlp_depths must give the two MLP stages' depths, got {mlp_depths!r}")
        if attention_strategy not in (None, *self.supported_attention_strategies):
            raise ValueError(
                f"ITPN attention_strategy={attention_strategy!r}: iTPN/HiViT attend globally in every "
                "stage-3 block (no windows); use None, 'global' or 'global_checkpoint'.")
        if pyramid_init not in ("pretrained", "random"):
            raise ValueError(f"ITPN pyramid_init must be 'pretrained' or 'random', got {pyramid_init!r}")
        if attention_strategy == "global_checkpoint":
            use_checkpoint = True
        c4, c8, c16 = embed_dim // 4, embed_dim // 2, embed_dim
        self.embed_dim, self.depth, self.num_heads = embed_dim, depth, num_heads
        self.mlp_depths = tuple(mlp_depths)
        self.integral_pyramid = integral_pyramid
        self.pyramid_init = pyramid_init
        self.fpn_dim = fpn_dim
        self.use_checkpoint = use_checkpoint
        self.pretrain_grid = pretrain_img_size // 16
        self.num_layers = sum(mlp_depths) + depth  # non-merge trunk blocks (layer decay)

        def ln(d):
            return nn.LayerNorm(d, eps=norm_eps)

        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(in_chans, c4, kernel_size=4, stride=4)
        self.patch_embed.norm = ln(c4)
        self.absolute_pos_embed = new_abs_pos_embed((1, self.pretrain_grid ** 2, c16), "random")

        n = sum(mlp_depths) + depth
        dpr = iter(torch.linspace(0, drop_path_rate, n, device="cpu").tolist())  # as the official
        blocks = [MlpBlock(c4, bridge_mlp_ratio, next(dpr), norm_eps, layer_scale_init_value)
                  for _ in range(mlp_depths[0])]
        blocks.append(PatchMerge(c4, norm_eps))
        blocks += [MlpBlock(c8, bridge_mlp_ratio, next(dpr), norm_eps, layer_scale_init_value)
                   for _ in range(mlp_depths[1])]
        blocks.append(PatchMerge(c8, norm_eps))
        # Stage 3: global blocks; decomposed relative positions sized for the pre-training grid.
        blocks += build_blocks(
            c16, num_heads, list(dpr), checkpoint_block_indexes=range(depth) if use_checkpoint else (),
            rel_pos="decomposed" if rel_pos else None, grid_size=(self.pretrain_grid,) * 2,
            mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, norm_eps=norm_eps,
            layer_scale_init_value=layer_scale_init_value, use_sdpa=use_sdpa)
        self.blocks = nn.ModuleList(blocks)
        self.merge_indexes = (mlp_depths[0], mlp_depths[0] + 1 + mlp_depths[1])
        self.num_stem_blocks = self.merge_indexes[1] + 1  # blocks before stage 3

        if integral_pyramid:
            self.align_dim_16tofpn = nn.Linear(c16, fpn_dim) if c16 != fpn_dim else None
            self.split_16to8 = PatchSplit(c16, fpn_dim, norm_eps)
            self.align_dim_16to8 = nn.Linear(c8, fpn_dim, bias=False)
            self.block_16to8 = nn.Sequential(*[MlpBlock(fpn_dim, mlp_ratio, 0.0, norm_eps)
                                               for _ in range(fpn_depth)])
            self.split_8to4 = PatchSplit(fpn_dim, fpn_dim, norm_eps)
            self.align_dim_8to4 = nn.Linear(c4, fpn_dim, bias=False)
            self.block_8to4 = nn.Sequential(*[MlpBlock(fpn_dim, mlp_ratio, 0.0, norm_eps)
                                              for _ in range(fpn_depth)])
            self.fpn_modules = nn.ModuleList(MlpBlock(fpn_dim, mlp_ratio, 0.0, norm_eps) for _ in range(3))

        if integral_pyramid:
            specs = {"p2": (fpn_dim, 4), "p3": (fpn_dim, 8), "p4": (fpn_dim, 16),
                     "p5": (fpn_dim, 32), "p6": (fpn_dim, 64)}
        else:
            specs = {"c2": (c4, 4), "c3": (c8, 8), "c4": (c16, 16), "c5": (c16, 32)}
        if out_features is None:
            out_features = list(specs)
        unknown = [f for f in out_features if f not in specs]
        if unknown:
            raise ValueError(f"ITPN out_features {unknown} are not available "
                             f"(integral_pyramid={integral_pyramid}: choose from {list(specs)})")
        self._out_features = list(out_features)
        self._out_feature_channels = {f: specs[f][0] for f in self._out_features}
        self._out_feature_strides = {f: specs[f][1] for f in self._out_features}

        self.apply(self._init_weights)
        if rel_pos:  # the official iTPN_CLIP initializes its decomposed tables trunc-normal
            init_decomposed_rel_pos(self.blocks[self.num_stem_blocks:])

    # The official _init_weights is the plain ViT's: trunc-normal(0.02) Linear weights,
    # zero biases, unit LayerNorms.
    _init_weights = staticmethod(init_vit_weights)

    @property
    def size_divisibility(self) -> int:
        return 32

    @property
    def padding_constraints(self) -> Dict[str, int]:
        return {"size_divisibility": 32}

    def pretrained_parts(self) -> Dict[str, Tuple[str, ...]]:
        """Name prefixes of the pre-trained trunk and pyramid (used by the frozen protocol)."""
        if not self.integral_pyramid:
            return {"trunk": ("",), "pyramid": ()}  # the whole module is the trunk
        return {"trunk": TRUNK_PREFIXES, "pyramid": PYRAMID_PREFIXES}

    def _run(self, blk: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.use_checkpoint and torch.is_grad_enabled() and x.requires_grad and not isinstance(blk, Block):
            return torch.utils.checkpoint.checkpoint(blk, x, use_reentrant=False)
        return blk(x)  # a Block checkpoints itself (use_checkpoint)

    def forward_trunk(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(B, 3, H, W)`` -> C2, C3, C4 as ``(B, h, w, c)`` maps (H, W padded to multiples of 32)."""
        H, W = x.shape[-2:]
        ph, pw = (-H) % 32, (-W) % 32
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        x = self.patch_embed.norm(self.patch_embed.proj(x).permute(0, 2, 3, 1))
        feats = []
        for i, blk in enumerate(self.blocks[: self.num_stem_blocks]):
            if i in self.merge_indexes:
                feats.append(x)
            x = self._run(blk, x)
        x = x + resize_ape(self.absolute_pos_embed, tuple(x.shape[1:3]))
        for blk in self.blocks[self.num_stem_blocks:]:
            x = self._run(blk, x)
        return feats[0], feats[1], x

    def forward_pyramid(self, c2, c3, c4) -> Dict[str, torch.Tensor]:
        """The integral pyramid on channels-last C2, C3, C4: ``p2``..``p6`` (NCHW)."""
        p4 = c4 if self.align_dim_16tofpn is None else self.align_dim_16tofpn(c4)
        t3 = self.block_16to8(self.split_16to8(c4) + self.align_dim_16to8(c3))
        t2 = self.block_8to4(self.split_8to4(t3) + self.align_dim_8to4(c2))
        outs = {}
        for name, t, blk in zip(("p4", "p3", "p2"), (p4, t3, t2), self.fpn_modules):
            outs[name] = blk(t).permute(0, 3, 1, 2)
        outs["p5"] = F.avg_pool2d(outs["p4"], kernel_size=2, stride=2)  # floor sizes
        outs["p6"] = F.avg_pool2d(outs["p5"], kernel_size=2, stride=2)
        return outs

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        c2, c3, c4 = self.forward_trunk(x)
        if self.integral_pyramid:
            outs = self.forward_pyramid(c2, c3, c4)
        else:
            outs = {"c2": c2.permute(0, 3, 1, 2), "c3": c3.permute(0, 3, 1, 2), "c4": c4.permute(0, 3, 1, 2)}
            if "c5" in self._out_features:
                outs["c5"] = F.max_pool2d(outs["c4"], kernel_size=2, stride=2)
        return {k: outs[k] for k in self._out_features}

    def output_shape(self):
        return {k: ShapeSpec(channels=self._out_feature_channels[k], stride=self._out_feature_strides[k])
                for k in self._out_features}


def bn_fpn_design(integral_backbone, out_channels: int = 256):
    """Config helper: the lazy design-2 backbone (trunk C2-C5 -> the library's BN FPN, P6 by max
    pool, padding to 32) from the lazy integral ``ITPN(...)`` node of a design-1 config."""
    from detectron2.config import LazyCall as L
    from detectron2.modeling.backbone.fpn import LastLevelMaxPool

    from vitdet_bench.modeling.necks import ViTFPN

    trunk = {k: v for k, v in dict(integral_backbone).items()
             if k not in ("_target_", "fpn_dim", "fpn_depth", "pyramid_init")}
    trunk.update(integral_pyramid=False, out_features=("c2", "c3", "c4", "c5"))
    return L(ViTFPN)(bottom_up=L(ITPN)(**trunk), in_features=["c2", "c3", "c4", "c5"],
                     out_channels=out_channels, norm="BN", top_block=L(LastLevelMaxPool)(), square_pad=0)
