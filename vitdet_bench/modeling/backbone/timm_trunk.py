"""A detection trunk around any timm ``VisionTransformer`` or ``Eva`` model.

The pre-training families of today (DINOv2 with and without registers, DINOv3,
EVA-02, OpenAI CLIP, SigLIP 2, DeiT III, Perception Encoder, AIMv2, a user's own
timm ViT) are all implemented in timm. This trunk creates the timm model by name
and reuses its patch projection, its blocks (attention with or without RoPE,
SwiGLU, LayerScale, RMSNorm, q/v-only biases: all timm's modules, called as timm
calls them) and its final norm. What it adds is what detection needs:

* prefix tokens (class, registers, storage) are dropped before the first block,
  as ViTDet drops the class token (``prefix_tokens="drop"``); ``"keep"`` keeps
  them and is only allowed when every block is global (it reproduces timm's
  ``forward_features`` exactly);
* the absolute position table, if the family has one, resized to the detection
  grid: once at load time (``pos_embed_grid="detection"``, a ``(1, h, w, C)``
  table) or in every forward from the pre-training table with its prefix slots
  (``pos_embed_grid="pretrain"``, ViTDet's recipe);
* windowed and global blocks with the ViT backbone's memory strategies
  (``attention_strategy``) and activation checkpointing. A windowed block is
  ViTDet's: only its attention sees windows (the normalized tokens zero-padded to
  whole windows, the padding cropped after attention), drop path per image, the MLP
  on the unpadded grid; timm's branches (``norm1``, ``attn``, LayerScale, ``mlp``)
  are called one by one. Global blocks are timm's blocks called whole;
* RoPE under windows (``rope_windows``): ``"partition"`` (default) cuts the full
  grid's rotary sin/cos into windows with the tokens, so relative offsets mean the
  same in windowed and global blocks; ``"window_grid"`` is EVA-02's detection scheme:
  window blocks get a RoPE of the window grid (coordinates rescaled to the
  pre-training grid by timm's ``ref_feat_shape``), global blocks one of the full
  grid. DINOv3's coordinates are normalized to the whole grid in both schemes
  (its window-grid table is the full-grid table of the first window's positions).
  Padded tokens get the identity rotation (sin 0, cos 1);
* patch size 14: ``patch_route="resample16"`` (default) turns the patch kernel
  into a 16x16 one with timm's ``resample_patch_embed`` at load time (the same
  token grid as the patch-16 families: 64x64 at 1024); ``"native"`` keeps the
  kernel and the blocks at stride 14, with the input padded to a multiple of
  14 x window size (whole windows; 14 without windowed blocks). The detector
  necks and detectron2's anchors and ROI poolers work on power-of-two strides,
  so each tap is then resampled onto the stride-16 grid of the unpadded input
  (:func:`resample_taps_to_stride`): bilinear interpolation with the exact
  coordinate mapping of the two grids (the stride-16 cell centred at
  ``16 (i + 0.5)`` px reads the stride-14 map at ``16 (i + 0.5) / 14 - 0.5``),
  ``ceil(H / 16) x ceil(W / 16)`` cells, so ``output_shape`` says stride 16 and
  both necks take the taps unchanged. ViT-Adapter ports that keep DINOv2's
  patch 14 (facebookresearch/dinov2 issue 84) add its stride-14 features to the
  adapter's stride-16 maps by the same kind of bilinear interpolation (there sized
  to the target map, not at the exact 14/16 scale); ViT-Adapter's own DINOv2
  detection configs convert the kernel to 16 instead (its ``convert_14to16.py``,
  the resample16 route). The blocks
  then see more tokens than on the resample16 route: at 1024 with 14x14 windows
  the input is padded to 1176, an 84x84 grid against 64x64;
* taps: the outputs of ``out_block_indexes`` as ``block{i}`` maps, as the ViT
  backbone names them (blocks d/4, d/2, 3d/4, d for the multi-scale adaptor; the
  last one for ViTDet's simple pyramid).
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone

from ...layers.attention import resize_abs_pos_embed, window_partition, window_unpartition
from .token_stage import attention_strategy_layout, quarter_block_indexes

__all__ = ["TimmTrunk", "PREFIX_TOKEN_MODES", "ROPE_WINDOW_SCHEMES", "PATCH_ROUTES",
           "window_rope_tables", "resample_taps_to_stride", "build_timm_trunk_backbone"]

PREFIX_TOKEN_MODES = ("drop", "keep")
ROPE_WINDOW_SCHEMES = ("partition", "window_grid")
PATCH_ROUTES = ("resample16", "native")
POS_EMBED_GRIDS = ("detection", "pretrain")
# The stride every tap is given to the necks (ViTDet's and the Benchmarking detector's).
TAP_STRIDE = 16


def _is_dinov3_rope(rope: nn.Module) -> bool:
    from timm.layers.pos_embed_sincos import RotaryEmbeddingDinoV3

    return isinstance(rope, RotaryEmbeddingDinoV3)


def _pad_rope_grid(table: torch.Tensor, pad_hw: Tuple[int, int]) -> torch.Tensor:
    """Pad an ``(H, W, 2D)`` [sin, cos] table to ``pad_hw`` with the identity rotation."""
    H, W, D2 = table.shape
    Hp, Wp = pad_hw
    if (Hp, Wp) == (H, W):
        return table
    identity = torch.cat([table.new_zeros(D2 // 2), table.new_ones(D2 // 2)])
    out = identity.expand(Hp, Wp, D2).clone()
    out[:H, :W] = table
    return out


def window_rope_tables(rope: nn.Module, grid: Tuple[int, int], window_size: int,
                       scheme: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """The rotary tables of the global blocks and of the window blocks.

    Returns ``(global_table, window_table)``: ``(H*W, 2D)`` for the global blocks and
    ``(nW, ws*ws, 2D)`` per window for the windowed ones (window order as
    :func:`window_partition`; ``nW`` is 1 when every window shares one table).
    """
    H, W = grid
    ws = window_size
    full = rope.get_embed(shape=[H, W])  # (H*W, 2D)
    Hp, Wp = H + (-H) % ws, W + (-W) % ws
    if scheme == "partition" or (scheme == "window_grid" and _is_dinov3_rope(rope)):
        padded = _pad_rope_grid(full.reshape(H, W, -1), (Hp, Wp))
        windows, _ = window_partition(padded[None], ws)  # (nW, ws, ws, 2D)
        windows = windows.reshape(windows.shape[0], ws * ws, -1)
        if scheme == "window_grid":
            # DINOv3: positions within a window, normalized to the whole grid.
            windows = windows[:1]
        return full, windows
    if scheme == "window_grid":
        return full, rope.get_embed(shape=[ws, ws])[None]
    raise ValueError(f"rope_windows must be one of {ROPE_WINDOW_SCHEMES}, got {scheme!r}")


def resample_taps_to_stride(feature: torch.Tensor, patch_size: int, input_hw: Tuple[int, int],
                            stride: int = TAP_STRIDE) -> torch.Tensor:
    """Resample a stride-``patch_size`` map onto the stride-``stride`` grid of the input.

    ``feature`` is ``(B, C, h, w)`` on the patch grid of an ``input_hw`` image (padded at
    the bottom/right, as the trunk pads); the result is ``(B, C, ceil(H / stride),
    ceil(W / stride))``. Cell ``i`` of the output is centred at ``stride (i + 0.5)`` px,
    which is position ``stride (i + 0.5) / patch_size - 0.5`` of the patch grid: that is
    bilinear interpolation with ``align_corners=False`` and the scale ``patch_size /
    stride`` itself (not one recomputed from rounded sizes). A map too short for the
    last cells is extended by repeating its last row/column, which is the same as
    clamping the sample position to the map.
    """
    out_h, out_w = (math.ceil(n / stride) for n in input_hw)
    need_h, need_w = (math.ceil(n * stride / patch_size) for n in (out_h, out_w))
    pad_h, pad_w = max(0, need_h - feature.shape[-2]), max(0, need_w - feature.shape[-1])
    if pad_h or pad_w:
        feature = F.pad(feature, (0, pad_w, 0, pad_h), mode="replicate")
    out = F.interpolate(feature, scale_factor=patch_size / stride, mode="bilinear",
                        align_corners=False, recompute_scale_factor=False)
    return out[..., :out_h, :out_w]


class TimmTrunk(Backbone):
    """Detection trunk built around the timm model ``model_name`` (``VisionTransformer`` / ``Eva``).

    Args:
        model_name: a timm model name (``timm.create_model``), e.g.
            ``"vit_base_patch14_reg4_dinov2"``, ``"eva02_base_patch14_224"``.
        img_size: detection input side (1024).
        pretrain_img_size: the pre-training input side (sets the position table and
            the RoPE reference grid); default: the timm model's own.
        model_kwargs: extra ``timm.create_model`` arguments (e.g. depth, embed_dim
            for a tiny model, or a user's own architecture).
        patch_route: for a patch size other than 16: ``"resample16"`` or ``"native"``
            (blocks at the native stride, taps resampled to stride 16).
        attention_strategy / window_size / window_block_indexes /
            checkpoint_block_indexes: as :class:`~.vit.ViT`.
        global_block_indexes: the global blocks of ``attention_strategy="window_global"``
            (default: the last block of each quarter); a family whose depth is not
            divisible by 4, or whose recipe publishes other global blocks, names them
            here and keeps the strategy switch of ``tools/benchmark.py`` (the other
            strategies make every block windowed or global and leave them unused).
        prefix_tokens: ``"drop"`` (default) or ``"keep"`` (all blocks global only).
        pos_embed_grid: ``"detection"`` or ``"pretrain"`` (see module docstring).
        rope_windows: ``"partition"`` or ``"window_grid"``.
        use_final_norm: apply the model's final norm to the last block's tap.
        out_block_indexes: tapped blocks; default ``global_block_indexes`` when given, else
            the last of each quarter (the last block alone for a depth not divisible by 4).
        drop_path_rate: stochastic depth (timm's linear rule).
        use_sdpa: timm attention's fused ``scaled_dot_product_attention`` (its
            ``fused_attn`` switch; False: timm's explicit softmax path).
    """

    # The axes tools/benchmark.py may set on this class (vitdet_bench.measure.cells).
    supported_benchmark_options = ("attention_strategy", "img_size", "use_sdpa")

    def __init__(
        self,
        model_name: str,
        img_size: int = 1024,
        pretrain_img_size: Optional[int] = None,
        model_kwargs: Optional[dict] = None,
        patch_route: str = "resample16",
        attention_strategy: Optional[str] = "window_global",
        window_size: int = 14,
        window_block_indexes: Optional[Sequence[int]] = None,
        checkpoint_block_indexes: Optional[Sequence[int]] = None,
        global_block_indexes: Optional[Sequence[int]] = None,
        prefix_tokens: str = "drop",
        pos_embed_grid: str = "detection",
        rope_windows: str = "partition",
        use_final_norm: bool = False,
        out_block_indexes: Optional[Sequence[int]] = None,
        drop_path_rate: float = 0.0,
        use_sdpa: bool = True,
    ):
        super().__init__()
        import timm

        for name, value, allowed in (("prefix_tokens", prefix_tokens, PREFIX_TOKEN_MODES),
                                     ("rope_windows", rope_windows, ROPE_WINDOW_SCHEMES),
                                     ("patch_route", patch_route, PATCH_ROUTES),
                                     ("pos_embed_grid", pos_embed_grid, POS_EMBED_GRIDS)):
            if value not in allowed:
                raise ValueError(f"TimmTrunk: {name} must be one of {allowed}, got {value!r}")
        kwargs = dict(model_kwargs or {})
        if pretrain_img_size is not None:
            kwargs["img_size"] = pretrain_img_size
        # dynamic_img_size: timm's RoPE modules then build tables for any grid we ask for.
        model = timm.create_model(model_name, pretrained=False, num_classes=0,
                                  dynamic_img_size=True, drop_path_rate=drop_path_rate, **kwargs)
        from timm.models.eva import Eva
        from timm.models.vision_transformer import VisionTransformer

        if not isinstance(model, (VisionTransformer, Eva)):
            raise ValueError(
                f"TimmTrunk: timm model {model_name!r} is a {type(model).__name__}; the trunk "
                "supports timm VisionTransformer and Eva models")
        if getattr(model, "rope_mixed", False):
            raise ValueError(f"TimmTrunk: {model_name!r} uses per-block mixed RoPE, not supported")
        depth = len(model.blocks)
        if global_block_indexes is not None:
            global_block_indexes = tuple(global_block_indexes)
            bad = [i for i in global_block_indexes if not 0 <= i < depth]
            if bad:
                raise ValueError(f"TimmTrunk: global_block_indexes {bad} out of range for "
                                 f"{model_name!r} with depth={depth}")
            if attention_strategy is None:
                raise ValueError("TimmTrunk: global_block_indexes needs attention_strategy "
                                 "(they are the global blocks of 'window_global'); with "
                                 "attention_strategy=None give window_block_indexes instead")
        if attention_strategy is not None:
            if window_block_indexes is not None or checkpoint_block_indexes is not None:
                raise ValueError("TimmTrunk got attention_strategy and explicit block indexes; "
                                 "set attention_strategy=None to give the indexes yourself, or "
                                 "give the global blocks of 'window_global' as global_block_indexes")
            layout = attention_strategy_layout(attention_strategy, depth,
                                               global_block_indexes=global_block_indexes)
            window_block_indexes = layout["window_block_indexes"]
            checkpoint_block_indexes = layout["checkpoint_block_indexes"]
        self.window_block_indexes = tuple(window_block_indexes or ())
        self.checkpoint_block_indexes = tuple(checkpoint_block_indexes or ())
        if prefix_tokens == "keep" and self.window_block_indexes:
            raise ValueError("TimmTrunk: prefix_tokens='keep' needs every block global (windows "
                             f"cannot hold the prefix tokens); windowed blocks: {self.window_block_indexes}")

        # The source model is kept unregistered: the loader hands it to timm's filters.
        self._source = (model,)
        self.model_name = model_name
        self.is_eva = isinstance(model, Eva)
        self.depth = depth
        self.embed_dim = model.embed_dim
        self.window_size = window_size
        self.prefix_tokens = prefix_tokens
        self.rope_windows = rope_windows
        self.use_final_norm = use_final_norm
        self.pos_embed_grid = pos_embed_grid
        self.num_prefix_tokens = model.num_prefix_tokens
        self.no_embed_class = bool(getattr(model, "no_embed_class", False))
        self.pretrain_grid = tuple(model.patch_embed.grid_size)
        self.pretrain_img_size = tuple(model.patch_embed.img_size)
        native_patch = tuple(model.patch_embed.patch_size)
        self.native_patch_size = native_patch[0]
        if native_patch[0] != native_patch[1]:
            raise ValueError(f"TimmTrunk: non-square patch {native_patch} of {model_name!r}")

        self.patch_embed = model.patch_embed
        if patch_route == "resample16" and self.native_patch_size != 16:
            old = model.patch_embed.proj
            model.patch_embed.proj = nn.Conv2d(old.in_channels, old.out_channels, kernel_size=16,
                                               stride=16, bias=old.bias is not None)
            self.patch_size = 16
        else:
            self.patch_size = self.native_patch_size
        self.patch_route = patch_route if self.native_patch_size != 16 else "native"
        # Input padding: the kernel must tile the input (and whole windows the grid,
        # for the native route of a patch that does not divide img_size).
        unit = self.patch_size
        if self.patch_route == "native" and self.patch_size != 16 and self.window_block_indexes:
            unit = self.patch_size * window_size
        self.input_multiple = unit
        padded = img_size + (-img_size) % unit
        self.img_size = img_size
        self.grid_size = (padded // self.patch_size, padded // self.patch_size)

        self.norm_pre = model.norm_pre
        self.blocks = model.blocks
        self.norm = model.norm if use_final_norm else None
        self.rope = getattr(model, "rope", None) if self.is_eva else None
        if self.is_eva and prefix_tokens == "drop":
            # Eva attention leaves its first num_prefix_tokens tokens unrotated; with the
            # prefix tokens dropped every token is a patch token.
            for blk in self.blocks:
                blk.attn.num_prefix_tokens = 0
        if prefix_tokens == "keep":
            self.cls_token = model.cls_token
            self.reg_token = model.reg_token
        else:
            self.cls_token = self.reg_token = None
        self.pos_embed_num_prefix = 0 if self.no_embed_class else self.num_prefix_tokens
        if model.pos_embed is None:
            self.pos_embed = None
        elif pos_embed_grid == "pretrain":
            self.pos_embed = model.pos_embed
        else:
            self.pos_embed = nn.Parameter(torch.zeros(1, *self.grid_size, self.embed_dim))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        if prefix_tokens == "keep" and pos_embed_grid == "detection" and self.pos_embed_num_prefix:
            raise ValueError("TimmTrunk: prefix_tokens='keep' with a position table that has "
                             "prefix slots needs pos_embed_grid='pretrain' (the slots live there)")

        # A windowed block runs timm's branches one by one (only attention sees windows,
        # as in ViTDet); that needs the block classes whose forward is known.
        from timm.models.eva import EvaBlock
        from timm.models.vision_transformer import Block

        known = EvaBlock if self.is_eva else Block
        odd = sorted({type(self.blocks[i]).__name__ for i in self.window_block_indexes
                      if type(self.blocks[i]) is not known})
        if odd:
            raise ValueError(
                f"TimmTrunk: {model_name!r} has {', '.join(odd)} blocks; windowed blocks need "
                f"timm's {known.__name__} (its norm1 / attn / mlp branches are called one by "
                "one). Use attention_strategy='global' or 'global_checkpoint' for this model.")
        for i, blk in enumerate(self.blocks):
            blk.use_checkpoint = i in self.checkpoint_block_indexes
            for m in blk.modules():
                if hasattr(m, "fused_attn"):
                    m.fused_attn = bool(use_sdpa)
        if out_block_indexes is None:
            # the multi-scale adaptor's four taps: the global blocks when given, else the
            # last block of each quarter
            if global_block_indexes is not None:
                out_block_indexes = global_block_indexes
            else:
                out_block_indexes = quarter_block_indexes(depth) if depth % 4 == 0 else (depth - 1,)
        bad = [i for i in tuple(out_block_indexes) + self.window_block_indexes
               + self.checkpoint_block_indexes if not 0 <= i < depth]
        if bad:
            raise ValueError(f"TimmTrunk: block indexes {bad} out of range for depth={depth}")
        self.out_block_indexes = tuple(out_block_indexes)
        self._out_features = [f"block{i}" for i in self.out_block_indexes]
        self._out_feature_channels = {k: self.embed_dim for k in self._out_features}
        # The native route of a patch other than 16 hands the necks stride-16 taps.
        self.resample_taps = self.patch_size != TAP_STRIDE
        self.tap_stride = TAP_STRIDE if self.resample_taps else self.patch_size
        self._out_feature_strides = {k: self.tap_stride for k in self._out_features}

    @property
    def source_model(self) -> nn.Module:
        """The timm model the trunk's modules come from (for timm's checkpoint filters)."""
        return self._source[0]

    def is_global_block(self, i: int) -> bool:
        return i not in self.window_block_indexes

    def abs_pos_embed(self, hw: Tuple[int, int]) -> torch.Tensor:
        """The absolute embedding of the patch tokens on an ``hw`` grid, ``(1, h, w, C)``."""
        table = self.pos_embed
        if self.pos_embed_grid == "pretrain":
            table = table[:, self.pos_embed_num_prefix:].reshape(1, *self.pretrain_grid, -1)
        return resize_abs_pos_embed(table, hw)

    def _prefix(self, batch: int) -> Optional[torch.Tensor]:
        if self.prefix_tokens != "keep" or not self.num_prefix_tokens:
            return None
        parts = [t.expand(batch, -1, -1) for t in (self.cls_token, self.reg_token) if t is not None]
        prefix = torch.cat(parts, dim=1)
        if self.pos_embed is not None and self.pos_embed_num_prefix:
            prefix = prefix + self.pos_embed[:, :self.pos_embed_num_prefix]
        return prefix

    def _checkpointed(self, blk: nn.Module, fn, x: torch.Tensor) -> torch.Tensor:
        if blk.use_checkpoint and torch.is_grad_enabled() and x.requires_grad:
            return torch.utils.checkpoint.checkpoint(fn, x, use_reentrant=False)
        return fn(x)

    def _run_block(self, blk: nn.Module, x: torch.Tensor, rope: Optional[torch.Tensor]) -> torch.Tensor:
        """A global block, called as timm calls it."""
        def call(t):
            return blk(t, rope=rope) if self.is_eva else blk(t)

        return self._checkpointed(blk, call, x)

    def _attention_branch(self, blk: nn.Module, x: torch.Tensor, rope: Optional[torch.Tensor]) -> torch.Tensor:
        """timm's attention branch of ``blk`` on normalized tokens, LayerScale included."""
        if self.is_eva:
            out = blk.attn(x, rope=rope)
            return out if blk.gamma_1 is None else blk.gamma_1 * out
        return blk.ls1(blk.attn(x))

    def _mlp_branch(self, blk: nn.Module, x: torch.Tensor) -> torch.Tensor:
        out = blk.mlp(blk.norm2(x))
        if self.is_eva:
            return out if blk.gamma_2 is None else blk.gamma_2 * out
        return blk.ls2(out)

    def _run_windowed_block(self, blk: nn.Module, x: torch.Tensor,
                            window_rope: Optional[torch.Tensor]) -> torch.Tensor:
        """A windowed block as ViTDet's: only attention sees windows.

        ``window_rope``: ``(B * nW or 1, 1, ws * ws, 2D)``, the rotary table of each
        window of the batch (or one for all), or None.

        norm1, then windows zero-padded *after* the norm; attention per window; the
        windows put back and the padding cropped; drop path per image; the MLP on the
        unpadded grid. The same branches as timm's ``Block`` / ``EvaBlock`` forward.
        """
        ws = self.window_size

        def call(t):
            _, H, W, C = t.shape
            windows, pad_hw = window_partition(blk.norm1(t), ws)
            attn = self._attention_branch(blk, windows.reshape(-1, ws * ws, C), window_rope)
            attn = window_unpartition(attn.reshape(-1, ws, ws, C), ws, pad_hw, (H, W))
            t = t + blk.drop_path1(attn)
            return t + blk.drop_path2(self._mlp_branch(blk, t))

        return self._checkpointed(blk, call, x)

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        input_hw = tuple(x.shape[-2:])
        outputs = self.forward_patch_grid(x)
        if self.resample_taps:
            outputs = {k: resample_taps_to_stride(v, self.patch_size, input_hw, self.tap_stride)
                       for k, v in outputs.items()}
        return outputs

    def forward_patch_grid(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The taps on the blocks' own grid (stride ``patch_size`` of the padded input)."""
        H_in, W_in = x.shape[-2:]
        unit = self.input_multiple
        if H_in % unit or W_in % unit:
            x = F.pad(x, (0, (-W_in) % unit, 0, (-H_in) % unit))
        x = self.patch_embed.proj(x).permute(0, 2, 3, 1)
        x = self.patch_embed.norm(x)
        B, H, W, C = x.shape
        if self.pos_embed is not None:
            x = x + self.abs_pos_embed((H, W))
        prefix = self._prefix(B)
        x = self.norm_pre(x)
        if prefix is not None:
            prefix = self.norm_pre(prefix)
        global_rope = window_rope = None
        if self.rope is not None:
            global_rope, window_rope = window_rope_tables(
                self.rope, (H, W), self.window_size, self.rope_windows)
            # one table per window of the batch (or one for all), broadcast over heads:
            # built once here for every windowed block
            if window_rope.shape[0] != 1:
                window_rope = window_rope.repeat(B, 1, 1)
            window_rope = window_rope[:, None]
        outputs = {}
        for i, blk in enumerate(self.blocks):
            if self.is_global_block(i):
                seq = x.reshape(B, H * W, C)
                if prefix is not None:
                    seq = torch.cat([prefix, seq], dim=1)
                seq = self._run_block(blk, seq, global_rope)
                if prefix is not None:
                    prefix, seq = seq[:, :prefix.shape[1]], seq[:, prefix.shape[1]:]
                x = seq.reshape(B, H, W, C)
            else:
                x = self._run_windowed_block(blk, x, window_rope)
            if i in self.out_block_indexes:
                out = x
                if self.norm is not None and i == self.depth - 1:
                    out = self.norm(out)
                outputs[f"block{i}"] = out.permute(0, 3, 1, 2)
        return outputs

    def output_shape(self):
        return {k: ShapeSpec(channels=self._out_feature_channels[k],
                             stride=self._out_feature_strides[k]) for k in self._out_features}


@BACKBONE_REGISTRY.register()
def build_timm_trunk_backbone(cfg, input_shape):
    """yacs entry point: ``MODEL.BACKBONE.NAME = "build_timm_trunk_backbone"`` + ``MODEL.TIMM.*``.

    Keys: MODEL_NAME (required), MODEL_KWARGS (dict), IMG_SIZE, PRETRAIN_IMG_SIZE,
    PATCH_ROUTE, ATTENTION_STRATEGY, GLOBAL_BLOCK_INDEXES (the global blocks of
    "window_global"; empty: the last of each quarter), OUT_BLOCK_INDEXES (the taps; empty:
    the global blocks), WINDOW_SIZE, POS_EMBED_GRID, ROPE_WINDOWS, DROP_PATH_RATE, NECK
    ("multiscale" / "simple", as ``MODEL.VIT.NECK``; the simple pyramid reads the last tap).
    """
    from ..necks import build_vit_fpn

    tc = cfg.MODEL.get("TIMM", {})
    get = lambda k, d: tc.get(k, d)  # noqa: E731
    if not get("MODEL_NAME", ""):
        raise ValueError("MODEL.TIMM.MODEL_NAME is required (a timm VisionTransformer / Eva name)")
    design = get("NECK", "multiscale")
    net = TimmTrunk(
        get("MODEL_NAME", ""), img_size=get("IMG_SIZE", 1024),
        pretrain_img_size=get("PRETRAIN_IMG_SIZE", None),
        model_kwargs=dict(get("MODEL_KWARGS", {}) or {}), patch_route=get("PATCH_ROUTE", "resample16"),
        attention_strategy=get("ATTENTION_STRATEGY", "window_global"),
        global_block_indexes=tuple(get("GLOBAL_BLOCK_INDEXES", ()) or ()) or None,
        out_block_indexes=tuple(get("OUT_BLOCK_INDEXES", ()) or ()) or None,
        window_size=get("WINDOW_SIZE", 14),
        pos_embed_grid=get("POS_EMBED_GRID", "detection" if design == "multiscale" else "pretrain"),
        rope_windows=get("ROPE_WINDOWS", "partition"), drop_path_rate=get("DROP_PATH_RATE", 0.1),
    )
    return build_vit_fpn(net, design=design, out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
                         norm=cfg.MODEL.FPN.NORM or ("BN" if design == "multiscale" else "LN"),
                         square_pad=get("IMG_SIZE", 1024))
