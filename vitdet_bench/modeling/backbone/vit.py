"""The plain ViT backbone of "Benchmarking Detection Transfer Learning with ViTs".

Li et al. 2021, section 3: a ViT with patch 16 at 1024x1024 input, windowed
attention (14x14 windows) in most blocks and global attention in four, the last
block of each quarter. Positional information is an absolute embedding
(interpolated from the pre-training grid to the detection grid) plus BEiT-style
relative position biases, one table shared by all window blocks and one shared
by all global blocks. The ViTDet variant (Li et al. 2022) instead uses per-block
decomposed relative positions; both are selectable here.

Memory strategies (the paper's ablation), by name in ``attention_strategy``:

============================  ===========================================
``"window"``                  every block windowed
``"window_global"``           windowed + 4 global blocks (default)
``"global_checkpoint"``       every block global, activation checkpointing
``"global"``                  every block global
============================  ===========================================
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone

from ...layers.attention import resize_abs_pos_embed
from .token_stage import (
    ATTENTION_STRATEGIES,
    Block,
    attention_strategy_layout,
    block_attention_settings,
    build_blocks,
    init_decomposed_rel_pos,
    init_vit_weights,
    new_abs_pos_embed,
    quarter_block_indexes,
    shared_rel_pos_biases,
    shared_rel_pos_tables,
)

__all__ = ["ViT", "Block", "PatchEmbed", "ATTENTION_STRATEGIES", "attention_strategy_layout",
           "VIT_SIZES", "build_vit_backbone", "block_attention_settings", "POS_EMBED_GRIDS"]

# Where the absolute position embedding's parameters live (``ViT(pos_embed_grid=...)``):
# "detection": a table at the detection grid (64x64 at 1024), the pre-trained one resized
#   once at load time (Benchmarking paper);
# "pretrain": the pre-training table (14x14 at 224, plus the class-token slot), resized
#   bicubically in every forward (ViTDet, detectron2's ``get_abs_pos``).
POS_EMBED_GRIDS = ("detection", "pretrain")

# (embed_dim, depth, num_heads) of the four sizes used in the paper and its follow-ups.
VIT_SIZES = {
    "T": (192, 12, 3),
    "S": (384, 12, 6),
    "B": (768, 12, 12),
    "L": (1024, 24, 16),
    "H": (1280, 32, 16),
}


class PatchEmbed(nn.Module):
    """Non-overlapping patch projection; returns a ``(B, H, W, C)`` token map."""

    def __init__(self, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class ViT(Backbone):
    """Plain ViT for detection; outputs the token maps of selected blocks (stride 16).

    Args:
        img_size: detection input side (1024); sets the grid of the absolute
            embedding and of the global relative-position table (64x64).
        patch_size, in_chans, embed_dim, depth, num_heads, mlp_ratio, qkv_bias:
            the usual ViT sizes (see ``VIT_SIZES``).
        drop_path_rate: stochastic depth, linearly increasing over blocks.
        layer_scale_init_value: > 0 turns on layer scale (BEiT).
        attention_strategy: one of ``ATTENTION_STRATEGIES``; sets the window and
            checkpoint block indexes. Pass ``None`` to give them explicitly.
        window_size: side of the attention windows (14).
        window_block_indexes: blocks with windowed attention (others are global).
        checkpoint_block_indexes: blocks wrapped in fairscale's ``checkpoint_wrapper``
            (activation checkpointing); any subset.
        window_shift: shift windowed blocks by ``window_size // 2`` in every other
            windowed block (Swin-style); off in the paper.
        use_abs_pos / abs_pos_init: absolute position embedding on/off and its
            fresh init ("random": trunc-normal 0.02, "zero"); a checkpoint loader
            overwrites it with the pre-trained one.
        pos_embed_grid: where its parameters live (``POS_EMBED_GRIDS``):
            "detection" (Benchmarking): a ``(1, H/p, W/p, C)`` table at the detection
            grid; the loader resizes the pre-trained table once.
            "pretrain" (ViTDet): upstream's ``(1, [1 +] (s/p)^2, C)`` table at the
            pre-training grid (``s = pretrain_img_size``), interpolated bicubically to
            the token grid in every forward, so its gradient flows through the resize.
            The two give the same features at ``img_size`` when the detection table is
            the resized pre-training one, but train differently.
        pretrain_img_size / pretrain_use_cls_token: the pre-training grid and whether
            the table keeps the class token's slot (never read by the forward; kept so
            the parameters are upstream's), for ``pos_embed_grid="pretrain"``.
        rel_pos: "shared" (Benchmarking: one BEiT-style table for all window
            blocks, one for all global blocks), "decomposed" (ViTDet: per block),
            or None.
        rel_pos_init: fresh init of the relative tables: "zero" or "random".
        use_sdpa: fused ``scaled_dot_product_attention`` (else the reference path).
        out_block_indexes: blocks whose outputs are returned as ``block{i}``;
            default: the last block of each quarter (the multi-scale adaptor's input).
    """

    # Options of the measurement tools that change this network (see BENCHMARK_OPTIONS).
    supported_benchmark_options = frozenset({"attention_strategy", "img_size", "use_sdpa"})
    supported_attention_strategies = ATTENTION_STRATEGIES

    def __init__(
        self,
        img_size: int = 1024,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float = 0.0,
        attention_strategy: Optional[str] = "window_global",
        window_size: int = 14,
        window_block_indexes: Optional[Sequence[int]] = None,
        checkpoint_block_indexes: Optional[Sequence[int]] = None,
        window_shift: bool = False,
        use_abs_pos: bool = True,
        abs_pos_init: str = "random",
        pos_embed_grid: str = "detection",
        pretrain_img_size: int = 224,
        pretrain_use_cls_token: bool = True,
        rel_pos: Optional[str] = "shared",
        rel_pos_init: str = "zero",
        use_sdpa: bool = True,
        out_block_indexes: Optional[Sequence[int]] = None,
    ):
        super().__init__()
        if img_size % patch_size:
            raise ValueError(f"img_size={img_size} is not a multiple of patch_size={patch_size}")
        if attention_strategy is not None:
            if window_block_indexes is not None or checkpoint_block_indexes is not None:
                raise ValueError(
                    "ViT got attention_strategy and explicit window/checkpoint block indexes; "
                    "set attention_strategy=None to give the indexes yourself"
                )
            layout = attention_strategy_layout(attention_strategy, depth)
            window_block_indexes = layout["window_block_indexes"]
            checkpoint_block_indexes = layout["checkpoint_block_indexes"]
        window_block_indexes = tuple(window_block_indexes or ())
        checkpoint_block_indexes = tuple(checkpoint_block_indexes or ())
        if pos_embed_grid not in POS_EMBED_GRIDS:
            raise ValueError(f"pos_embed_grid must be one of {POS_EMBED_GRIDS}, got {pos_embed_grid!r}")
        if pos_embed_grid == "pretrain" and pretrain_img_size % patch_size:
            raise ValueError(f"pretrain_img_size={pretrain_img_size} is not a multiple of "
                             f"patch_size={patch_size}")
        if rel_pos not in ("shared", "decomposed", None):
            raise ValueError(f"rel_pos must be 'shared', 'decomposed' or None, got {rel_pos!r}")
        if out_block_indexes is None:
            out_block_indexes = quarter_block_indexes(depth) if depth % 4 == 0 else (depth - 1,)

        self.img_size = img_size
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.depth = depth
        self.num_heads = num_heads
        self.window_size = window_size
        self.window_block_indexes = window_block_indexes
        self.checkpoint_block_indexes = checkpoint_block_indexes
        self.rel_pos = rel_pos
        self.grid_size = (img_size // patch_size, img_size // patch_size)
        self.out_block_indexes = tuple(out_block_indexes)
        self.pos_embed_grid = pos_embed_grid
        # Grid of the parameter table and its leading slots unused by forward (class token).
        if pos_embed_grid == "pretrain":
            side = pretrain_img_size // patch_size
            self.pos_embed_table_grid = (side, side)
            self.pos_embed_num_prefix = 1 if pretrain_use_cls_token else 0
        else:
            self.pos_embed_table_grid = self.grid_size
            self.pos_embed_num_prefix = 0

        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        if use_abs_pos:
            if pos_embed_grid == "pretrain":
                th, tw = self.pos_embed_table_grid
                shape = (1, self.pos_embed_num_prefix + th * tw, embed_dim)
            else:
                shape = (1, *self.grid_size, embed_dim)
            self.pos_embed = new_abs_pos_embed(shape, abs_pos_init)
        else:
            self.pos_embed = None

        self.window_rel_pos_bias = self.global_rel_pos_bias = None
        if rel_pos == "shared":
            self.window_rel_pos_bias, self.global_rel_pos_bias = shared_rel_pos_tables(
                num_heads, has_window=bool(window_block_indexes),
                has_global=len(window_block_indexes) < depth, window_size=window_size,
                grid_size=self.grid_size, init=rel_pos_init)

        # device="cpu": plain numbers even when built under torch.device("meta")
        dpr = torch.linspace(0, drop_path_rate, depth, device="cpu").tolist()
        self.blocks = nn.ModuleList(build_blocks(
            embed_dim, num_heads, dpr, window_block_indexes=window_block_indexes,
            checkpoint_block_indexes=checkpoint_block_indexes, window_size=window_size,
            window_shift=window_shift, rel_pos=rel_pos, grid_size=self.grid_size,
            mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, norm_eps=1e-6,
            layer_scale_init_value=layer_scale_init_value, use_sdpa=use_sdpa))

        self._out_features = [f"block{i}" for i in self.out_block_indexes]
        self._out_feature_channels = {k: embed_dim for k in self._out_features}
        self._out_feature_strides = {k: patch_size for k in self._out_features}
        self.apply(self._init_weights)
        if rel_pos == "decomposed" and rel_pos_init == "random":
            init_decomposed_rel_pos(self.blocks)

    @staticmethod
    def _unwrap(block: nn.Module) -> Block:
        # Blocks are no longer wrapped (checkpointing is Block.use_checkpoint); kept for
        # callers written against fairscale's checkpoint_wrapper.
        return getattr(block, "_checkpoint_wrapped_module", block)

    _init_weights = staticmethod(init_vit_weights)

    def is_global_block(self, i: int) -> bool:
        return i not in self.window_block_indexes

    def abs_pos_embed(self, hw: Tuple[int, int]) -> torch.Tensor:
        """The absolute embedding added to an ``hw`` token grid, ``(1, h, w, C)``."""
        table = self.pos_embed
        if self.pos_embed_grid == "pretrain":
            # Drop the class-token slot, view the rest as the pre-training grid.
            table = table[:, self.pos_embed_num_prefix:].reshape(
                1, *self.pos_embed_table_grid, table.shape[-1])
        return resize_abs_pos_embed(table, hw)

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        x = self.patch_embed(x)
        hw = tuple(x.shape[1:3])
        if self.pos_embed is not None:
            x = x + self.abs_pos_embed(hw)
        window_bias, global_bias = shared_rel_pos_biases(
            self.window_rel_pos_bias, self.global_rel_pos_bias, hw,
            use_sdpa=self._unwrap(self.blocks[0]).attn.use_sdpa, device=x.device)
        outputs = {}
        for i, blk in enumerate(self.blocks):
            x = blk(x, global_bias if self.is_global_block(i) else window_bias)
            if i in self.out_block_indexes:
                outputs[f"block{i}"] = x.permute(0, 3, 1, 2)
        return outputs

    def output_shape(self):
        return {k: ShapeSpec(channels=self._out_feature_channels[k],
                             stride=self._out_feature_strides[k]) for k in self._out_features}


# What each neck design brings unless MODEL.VIT.* / MODEL.FPN.NORM say otherwise: the
# Benchmarking recipe (multi-scale adaptor + BN FPN) or ViTDet's (simple pyramid).
NECK_DEFAULTS = {
    "multiscale": dict(REL_POS="shared", POS_EMBED_GRID="detection", NORM="BN"),
    "simple": dict(REL_POS="decomposed", POS_EMBED_GRID="pretrain", NORM="LN"),
}


@BACKBONE_REGISTRY.register()
def build_vit_backbone(cfg, input_shape):
    """yacs entry point: ``MODEL.BACKBONE.NAME = "build_vit_backbone"`` + ``MODEL.VIT.*``.

    Recognised keys (all optional): SIZE (T/S/B/L/H), IMG_SIZE, DROP_PATH_RATE,
    ATTENTION_STRATEGY, WINDOW_SIZE, REL_POS, POS_EMBED_GRID, PRETRAIN_IMG_SIZE,
    USE_ABS_POS, LAYER_SCALE, NECK ("multiscale" -> adaptor + BN FPN, the Benchmarking
    paper; "simple" -> ViTDet's simple feature pyramid). The neck brings its recipe's
    defaults (``NECK_DEFAULTS``): "simple" means decomposed relative positions, the
    pre-training position table and LayerNorm in the pyramid, as ViTDet; keys the
    user sets (or ``MODEL.FPN.NORM``) win.
    """
    from ..necks import build_vit_fpn

    vit_cfg = cfg.MODEL.get("VIT", {})
    get = lambda k, d: vit_cfg.get(k, d)  # noqa: E731
    design = get("NECK", "multiscale")
    if design not in NECK_DEFAULTS:
        raise ValueError(f"MODEL.VIT.NECK must be one of {sorted(NECK_DEFAULTS)}, got {design!r}")
    defaults = NECK_DEFAULTS[design]
    size = get("SIZE", "B")
    if size not in VIT_SIZES:
        raise ValueError(f"MODEL.VIT.SIZE must be one of {sorted(VIT_SIZES)}, got {size!r}")
    embed_dim, depth, heads = VIT_SIZES[size]
    net = ViT(
        img_size=get("IMG_SIZE", 1024), in_chans=input_shape.channels, embed_dim=embed_dim,
        depth=depth, num_heads=heads, drop_path_rate=get("DROP_PATH_RATE", 0.1),
        attention_strategy=get("ATTENTION_STRATEGY", "window_global"),
        window_size=get("WINDOW_SIZE", 14), rel_pos=get("REL_POS", defaults["REL_POS"]),
        pos_embed_grid=get("POS_EMBED_GRID", defaults["POS_EMBED_GRID"]),
        pretrain_img_size=get("PRETRAIN_IMG_SIZE", 224),
        use_abs_pos=get("USE_ABS_POS", True), layer_scale_init_value=get("LAYER_SCALE", 0.0),
    )
    return build_vit_fpn(net, design=design, out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
                         norm=cfg.MODEL.FPN.NORM or defaults["NORM"],
                         square_pad=get("IMG_SIZE", 1024))
