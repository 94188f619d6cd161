"""ConvMAE hybrid convolution-transformer backbone for detection.

ConvMAE (Gao et al. 2022, arXiv:2205.03892, section 3.1): three stages.

* stage 1: non-overlapping 4x4 conv patch embedding -> C1 channels at H/4,
  then L1 *convolution blocks*;
* stage 2: 2x2 conv embedding -> C2 at H/8, L2 convolution blocks;
* stage 3: 2x2 conv embedding -> C3 at H/16, a linear projection
  (``patch_embed4``), absolute position embedding, L3 transformer blocks.

A convolution block is a pre-norm transformer block whose attention is a 5x5
depthwise convolution between two 1x1 convolutions, followed by a (1x1-conv)
MLP. In pre-training, the depthwise convolution sees a masked input
(``mask * conv1(norm1(x))``, the "masked convolution"); the optional ``mask``
argument of :class:`ConvBlock` keeps that path.

Each patch embedding is conv -> LayerNorm -> GELU, as in both public code bases.

Detection designs for stage 3 (both here, the first the default):

1. multi-scale (Alpha-VL/ConvMAE ``DET/``): E1, E2, E3 and E4 = 2x2 max pool of
   E3 feed an FPN; blocks 0, 3, 6, 10 global, 16x16 non-shifted windows
   elsewhere; one BEiT-style relative-position table shared by the global
   blocks and one shared by the windowed blocks.
2. simple pyramid (OpenGVLab/Official-ConvMAE-Det): E3 alone feeds ViTDet's
   simple feature pyramid; blocks 1, 4, 7, 10 global, 14x14 windows, per-block
   decomposed relative positions.

The paper text mentions shifted 7x7 windows; ``window_shift=True`` shifts every
other windowed block by half a window (Swin), off by default.

Stage 3 is the library's token stage (:mod:`vitdet_bench.modeling.backbone.token_stage`,
the plain ViT's code): position embedding, shared relative-position tables, the block
stack, the attention-strategy layout and the lazy global bias on CPU.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import DropPath

from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone

from vitdet_bench.layers.attention import resize_abs_pos_embed
from vitdet_bench.modeling.backbone.token_stage import (
    ATTENTION_STRATEGIES,
    attention_strategy_layout,
    build_blocks,
    init_decomposed_rel_pos,
    init_vit_weights,
    new_abs_pos_embed,
    shared_rel_pos_biases,
    shared_rel_pos_tables,
)

__all__ = [
    "ConvMAE", "ConvBlock", "ConvPatchEmbed", "CONVMAE_SIZES", "DESIGNS",
    "design_kwargs", "build_convmae_backbone", "build_convmae_fpn",
]

# (embed_dims, depths, num_heads, mlp_ratios). Sources (README.md "Sizes"); not checked
# against the paper's appendix Table 8 (arXiv:2205.03892):
CONVMAE_SIZES = {
    # moreh-dev/FastConvMAE models_fastconvmae.py fastconvmae_convvit_small_patch16_dec512d8b
    # (fork of Alpha-VL/FastConvMAE); some third-party copies use 12 heads.
    "S": ((128, 256, 384), (2, 2, 11), 6, (4, 4, 4)),
    # Alpha-VL/ConvMAE models_convvit.py convvit_base_patch16, DET/models/convmae.py.
    "B": ((256, 384, 768), (2, 2, 11), 12, (4, 4, 4)),
    # dconvmae_convvit_large_patch16_dec512d8b (copy of Alpha-VL models_convmae.py);
    # 322M at 224 px with a 1000-class head = "ConvMAE-L 322" M in an early Alpha-VL README.
    "L": ((384, 768, 1024), (2, 2, 23), 16, (8, 8, 4)),
    # dconvmae_convvit_huge_patch16_dec512d8b (same file); no published count to check.
    "H": ((768, 1024, 1280), (2, 2, 31), 16, (8, 8, 4)),
}

# The two published detection designs of stage 3 (for depth-11 stage 3).
DESIGNS = {
    # Alpha-VL/ConvMAE DET/models/convmae.py ConvViTDet.forward: global blocks
    # 0, 3, 6, 10 (its unused ``global_attn_index`` attribute says 0, 4, 8, 10,
    # but the forward pass hard-codes 0/3/6/10); window 16 in the 100ep config.
    "multiscale": dict(window_size=16, global_block_indexes=(0, 3, 6, 10), rel_pos="shared",
                       out_features=("s0", "s1", "s2", "s3"), conv_norm_eps=1e-5),
    # OpenGVLab/Official-ConvMAE-Det mask_rcnn_vitdet_convmae_b_25ep.py:
    # window_block_indexes=[0,2,3,5,6,8,9] -> global 1, 4, 7, 10; window 14.
    "simple": dict(window_size=14, global_block_indexes=(1, 4, 7, 10), rel_pos="decomposed",
                   out_features=("s2",), conv_norm_eps=1e-6),
}


def design_kwargs(design: str) -> dict:
    if design not in DESIGNS:
        raise ValueError(f"ConvMAE design must be one of {sorted(DESIGNS)}, got {design!r}")
    return dict(DESIGNS[design])


class ConvPatchEmbed(nn.Module):
    """Non-overlapping strided conv -> LayerNorm (over channels) -> GELU; NCHW in and out."""

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int, eps: float = 1e-5):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim, eps=eps)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.act(x)


class ConvMlp(nn.Module):
    """MLP made of 1x1 convolutions (NCHW)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class ConvBlock(nn.Module):
    """ConvMAE convolution block (NCHW): a transformer block with 5x5 depthwise "attention".

    ``x + DP(conv2(dw5x5(mask * conv1(LN(x)))))`` then ``x + DP(MLP(LN(x)))``.
    ``mask`` (``(B, 1, H, W)``, 1 = visible) reproduces pre-training's masked
    convolution: masked positions contribute nothing to the depthwise conv.
    """

    def __init__(self, dim: int, mlp_ratio: float = 4.0, drop_path: float = 0.0,
                 kernel_size: int = 5, eps: float = 1e-5):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.conv1 = nn.Conv2d(dim, dim, 1)
        self.attn = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.conv2 = nn.Conv2d(dim, dim, 1)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio))

    @staticmethod
    def _ln(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
        return norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = self.conv1(self._ln(self.norm1, x))
        if mask is not None:
            y = y * mask
        x = x + self.drop_path(self.conv2(self.attn(y)))
        return x + self.drop_path(self.mlp(self._ln(self.norm2, x)))


class ConvMAE(Backbone):
    """ConvMAE encoder for detection: outputs ``s0``..``s3`` (strides 4, 8, 16, 32).

    Args:
        img_size: detection input side; sets the stage-3 grid (``img_size // 16``)
            of the absolute embedding and of the global relative table.
        embed_dims, depths, num_heads, mlp_ratios: stage sizes (``CONVMAE_SIZES``).
        patch_sizes: strides of the three patch embeddings (4, 2, 2).
        drop_path_rate: stochastic depth, linear over all L1+L2+L3 blocks.
        window_size: side of stage-3 attention windows (0: all global).
        global_block_indexes: stage-3 blocks with global attention; the rest
            are windowed.
        window_shift: Swin-style shift (half a window) in every other windowed
            block; off in both public implementations.
        rel_pos: "shared" (one BEiT table for global blocks, one for windowed
            blocks), "decomposed" (ViTDet, per block) or None.
        use_abs_pos / abs_pos_init / freeze_pos_embed: absolute embedding; the
            released DET model sets ``requires_grad=False`` on it (a side effect
            of its ``sincos_pos_embed=True``), which ``freeze_pos_embed`` mimics.
        checkpoint_block_indexes: stage-3 blocks whose activations are recomputed in
            backward (``Block.use_checkpoint``, as in the ViT); ``checkpoint_conv_blocks``
            wraps the stage 1-2 blocks in fairscale's ``checkpoint_wrapper``.
        attention_strategy: None (use the two index lists as given) or one of the
            ViT's ``ATTENTION_STRATEGIES``, so one benchmark / config key drives both
            families: "window" (no global block), "window_global" (the given
            ``global_block_indexes``: the design's four), "global_checkpoint" (all
            stage-3 blocks global and checkpointed), "global" (all global).
        conv_norm_eps: LayerNorm eps of patch embeddings and conv blocks
            (1e-5 in Alpha-VL DET, 1e-6 in Official-ConvMAE-Det); stage-3
            blocks use 1e-6 in both.
        out_features: subset of ``s0``..``s3``.
    """

    # Options of the measurement tools that change this network ("window_global" keeps
    # the design's four global blocks).
    supported_benchmark_options = frozenset({"attention_strategy", "img_size", "use_sdpa"})
    supported_attention_strategies = ATTENTION_STRATEGIES

    def __init__(
        self,
        img_size: int = 1024,
        in_chans: int = 3,
        embed_dims: Sequence[int] = (256, 384, 768),
        depths: Sequence[int] = (2, 2, 11),
        num_heads: int = 12,
        mlp_ratios: Sequence[float] = (4, 4, 4),
        patch_sizes: Sequence[int] = (4, 2, 2),
        qkv_bias: bool = True,
        drop_path_rate: float = 0.1,
        window_size: int = 16,
        global_block_indexes: Optional[Sequence[int]] = (0, 3, 6, 10),
        window_shift: bool = False,
        rel_pos: Optional[str] = "shared",
        rel_pos_init: str = "zero",
        use_abs_pos: bool = True,
        abs_pos_init: str = "random",
        freeze_pos_embed: bool = False,
        checkpoint_block_indexes: Sequence[int] = (),
        checkpoint_conv_blocks: bool = False,
        conv_norm_eps: float = 1e-5,
        use_sdpa: bool = True,
        out_features: Sequence[str] = ("s0", "s1", "s2", "s3"),
        attention_strategy: Optional[str] = None,
    ):
        super().__init__()
        depth3 = depths[2] if len(depths) == 3 else 0
        if global_block_indexes is not None:
            bad = [i for i in global_block_indexes if not 0 <= i < depth3]
            if bad:
                raise ValueError(f"global_block_indexes {bad} out of range for {depth3} stage-3 blocks")
        if attention_strategy is not None:
            if attention_strategy not in ATTENTION_STRATEGIES:
                raise ValueError(
                    f"ConvMAE attention_strategy={attention_strategy!r} is not one of "
                    f"{', '.join(ATTENTION_STRATEGIES)} (or None: use global_block_indexes "
                    "and checkpoint_block_indexes as given).")
            # "window_global" keeps the design's global blocks (the given indexes).
            layout = attention_strategy_layout(
                attention_strategy, depth3,
                tuple(range(depth3)) if global_block_indexes is None else global_block_indexes)
            global_block_indexes = tuple(i for i in range(depth3)
                                         if i not in layout["window_block_indexes"])
            # The strategy's checkpointing comes on top of the blocks asked for.
            checkpoint_block_indexes = tuple(sorted(
                set(checkpoint_block_indexes) | set(layout["checkpoint_block_indexes"])))
        if global_block_indexes is None or not window_size:
            global_block_indexes = tuple(range(depth3))
        if len(embed_dims) != 3 or len(depths) != 3 or len(mlp_ratios) != 3 or len(patch_sizes) != 3:
            raise ValueError("ConvMAE needs three embed_dims, depths, mlp_ratios and patch_sizes")
        stride3 = patch_sizes[0] * patch_sizes[1] * patch_sizes[2]
        if img_size % stride3:
            raise ValueError(f"img_size={img_size} is not a multiple of the stage-3 stride {stride3}")
        if rel_pos not in ("shared", "decomposed", None):
            raise ValueError(f"rel_pos must be 'shared', 'decomposed' or None, got {rel_pos!r}")
        global_block_indexes = tuple(global_block_indexes)
        bad = [i for i in checkpoint_block_indexes if not 0 <= i < depth3]
        if bad:
            raise ValueError(f"checkpoint_block_indexes {bad} out of range for {depth3} stage-3 blocks")
        strides = {"s0": patch_sizes[0], "s1": patch_sizes[0] * patch_sizes[1],
                   "s2": stride3, "s3": stride3 * 2}
        unknown = [f for f in out_features if f not in strides]
        if unknown:
            raise ValueError(f"unknown ConvMAE out_features {unknown}; choose from {list(strides)}")

        self.img_size = img_size
        self.embed_dims = tuple(embed_dims)
        self.depths = tuple(depths)
        self.num_heads = num_heads
        self.window_size = window_size
        self.global_block_indexes = global_block_indexes
        self.window_block_indexes = tuple(i for i in range(depth3) if i not in global_block_indexes)
        self.rel_pos = rel_pos
        self.grid_size = (img_size // stride3, img_size // stride3)
        self.num_layers = depth3  # for layer-wise lr decay

        n = sum(depths)
        dpr = [drop_path_rate * i / (n - 1) if n > 1 else 0.0 for i in range(n)]  # linspace
        c1, c2, c3 = embed_dims
        self.patch_embed1 = ConvPatchEmbed(patch_sizes[0], in_chans, c1, eps=conv_norm_eps)
        self.patch_embed2 = ConvPatchEmbed(patch_sizes[1], c1, c2, eps=conv_norm_eps)
        self.patch_embed3 = ConvPatchEmbed(patch_sizes[2], c2, c3, eps=conv_norm_eps)
        self.patch_embed4 = nn.Linear(c3, c3)

        def conv_stage(dim, n, ratio, offset):
            blocks = []
            for i in range(n):
                b = ConvBlock(dim, ratio, drop_path=dpr[offset + i], eps=conv_norm_eps)
                if checkpoint_conv_blocks:
                    from fairscale.nn.checkpoint import checkpoint_wrapper

                    b = checkpoint_wrapper(b)
                blocks.append(b)
            return nn.ModuleList(blocks)

        self.blocks1 = conv_stage(c1, depths[0], mlp_ratios[0], 0)
        self.blocks2 = conv_stage(c2, depths[1], mlp_ratios[1], depths[0])

        if use_abs_pos:
            self.pos_embed = new_abs_pos_embed((1, *self.grid_size, c3), abs_pos_init)
            if freeze_pos_embed:
                self.pos_embed.requires_grad_(False)
        else:
            self.pos_embed = None

        self.window_rel_pos_bias = self.global_rel_pos_bias = None
        if rel_pos == "shared":
            self.window_rel_pos_bias, self.global_rel_pos_bias = shared_rel_pos_tables(
                num_heads, has_window=bool(self.window_block_indexes),
                has_global=bool(self.global_block_indexes), window_size=window_size,
                grid_size=self.grid_size, init=rel_pos_init)

        self.blocks3 = nn.ModuleList(build_blocks(
            c3, num_heads, dpr[depths[0] + depths[1]:], window_block_indexes=self.window_block_indexes,
            checkpoint_block_indexes=checkpoint_block_indexes, window_size=window_size,
            window_shift=window_shift, rel_pos=rel_pos, grid_size=self.grid_size,
            mlp_ratio=mlp_ratios[2], qkv_bias=qkv_bias, norm_eps=1e-6, use_sdpa=use_sdpa))

        self._out_features = list(out_features)
        chans = {"s0": c1, "s1": c2, "s2": c3, "s3": c3}
        self._out_feature_channels = {k: chans[k] for k in self._out_features}
        self._out_feature_strides = {k: strides[k] for k in self._out_features}
        self.apply(self._init_weights)
        if rel_pos == "decomposed" and rel_pos_init == "random":
            init_decomposed_rel_pos(self.blocks3)

    @staticmethod
    def _unwrap(block: nn.Module) -> nn.Module:
        return getattr(block, "_checkpoint_wrapped_module", block)

    # Same init as the plain ViT (trunc-normal 0.02 linears, unit LayerNorms).
    _init_weights = staticmethod(init_vit_weights)

    def is_global_block(self, i: int) -> bool:
        return i in self.global_block_indexes

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        outs = {}
        x = self.patch_embed1(x)
        for blk in self.blocks1:
            x = blk(x)
        outs["s0"] = x
        x = self.patch_embed2(x)
        for blk in self.blocks2:
            x = blk(x)
        outs["s1"] = x
        x = self.patch_embed4(self.patch_embed3(x).permute(0, 2, 3, 1))  # (B, H, W, C)
        hw = tuple(x.shape[1:3])
        if self.pos_embed is not None:
            x = x + resize_abs_pos_embed(self.pos_embed, hw)
        # Shared tables: built once per forward, reused by every block; the global one
        # stays lazy where global attention runs query-blocked (CPU).
        wbias, gbias = shared_rel_pos_biases(
            self.window_rel_pos_bias, self.global_rel_pos_bias, hw,
            use_sdpa=self.blocks3[0].attn.use_sdpa if len(self.blocks3) else True, device=x.device)
        for i, blk in enumerate(self.blocks3):
            x = blk(x, gbias if self.is_global_block(i) else wbias)
        e3 = x.permute(0, 3, 1, 2)
        outs["s2"] = e3
        if "s3" in self._out_features:
            outs["s3"] = F.max_pool2d(e3, kernel_size=2, stride=2)  # E4
        return {k: outs[k] for k in self._out_features}

    def output_shape(self):
        return {k: ShapeSpec(channels=self._out_feature_channels[k],
                             stride=self._out_feature_strides[k]) for k in self._out_features}


def build_convmae_fpn(net: ConvMAE, design: str = "multiscale", out_channels: int = 256,
                      norm: str = "BN", square_pad: int = 1024) -> Backbone:
    """The neck of either design around a :class:`ConvMAE` (library FPN pieces)."""
    from detectron2.modeling.backbone.fpn import LastLevelMaxPool

    from vitdet_bench.modeling.necks import SimpleFeaturePyramid, ViTFPN

    if design == "multiscale":
        return ViTFPN(bottom_up=net, in_features=["s0", "s1", "s2", "s3"], out_channels=out_channels,
                      norm=norm, top_block=LastLevelMaxPool(), square_pad=square_pad)
    if design == "simple":
        return SimpleFeaturePyramid(net, in_feature="s2", out_channels=out_channels,
                                    scale_factors=(4.0, 2.0, 1.0, 0.5), norm=norm,
                                    top_block=LastLevelMaxPool(), square_pad=square_pad)
    raise ValueError(f"ConvMAE design must be 'multiscale' or 'simple', got {design!r}")


@BACKBONE_REGISTRY.register()
def build_convmae_backbone(cfg, input_shape):
    """yacs entry point: ``MODEL.BACKBONE.NAME = "build_convmae_backbone"`` + ``MODEL.CONVMAE.*``.

    Keys (optional): SIZE (S/B/L/H), DESIGN ("multiscale"/"simple"), IMG_SIZE,
    DROP_PATH_RATE, WINDOW_SHIFT.
    """
    c = cfg.MODEL.get("CONVMAE", {})
    get = lambda k, d: c.get(k, d)  # noqa: E731
    dims, depths, heads, ratios = CONVMAE_SIZES[get("SIZE", "B")]
    design = get("DESIGN", "multiscale")
    kw = design_kwargs(design)
    net = ConvMAE(img_size=get("IMG_SIZE", 1024), in_chans=input_shape.channels, embed_dims=dims,
                  depths=depths, num_heads=heads, mlp_ratios=ratios,
                  drop_path_rate=get("DROP_PATH_RATE", 0.1), window_shift=get("WINDOW_SHIFT", False),
                  **kw)
    norm = cfg.MODEL.FPN.NORM or ("BN" if design == "multiscale" else "LN")
    return build_convmae_fpn(net, design, cfg.MODEL.FPN.OUT_CHANNELS, norm, get("IMG_SIZE", 1024))
