"""The transformer token stage shared by the backbone families (ViT, ConvMAE, iTPN).

A family's transformer part is a stack of :class:`Block` over a ``(B, H, W, C)``
token map, plus some of: an absolute position embedding, BEiT relative-position
tables shared by the windowed and by the global blocks, or ViTDet's per-block
decomposed relative positions. The pieces here build and run that stage; each
family calls them with its own explicit arguments and keeps its parameter names
(``pos_embed``, ``window_rel_pos_bias``, ``blocks`` ...) so checkpoints load as before.

Memory strategies (the Benchmarking paper's ablation, Li et al. 2021 table 2), by name:

============================  ===========================================
``"window"``                  every block windowed
``"window_global"``           windowed + the family's global blocks
``"global_checkpoint"``       every block global, activation checkpointing
``"global"``                  every block global
============================  ===========================================
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.utils.checkpoint
from timm.layers import DropPath, Mlp

from ...layers import attention as _attention
from ...layers.attention import (
    Attention,
    RelativePositionBias,
    shifted_window_mask,
    window_partition,
    window_unpartition,
)

__all__ = [
    "ATTENTION_STRATEGIES", "Block", "quarter_block_indexes", "attention_strategy_layout",
    "block_attention_settings", "build_blocks", "new_abs_pos_embed", "shared_rel_pos_tables",
    "shared_rel_pos_biases", "init_decomposed_rel_pos", "init_vit_weights",
]

# The one definition of the strategy names; tools and configs import it from here
# (re-exported by ``vitdet_bench.modeling.backbone``).
ATTENTION_STRATEGIES = ("window", "window_global", "global_checkpoint", "global")


def quarter_block_indexes(depth: int) -> Tuple[int, ...]:
    """The last block of each quarter: (2, 5, 8, 11) for depth 12, (5, 11, 17, 23) for 24."""
    if depth % 4:
        raise ValueError(f"depth={depth} is not divisible by 4; pass the block indexes explicitly")
    q = depth // 4
    return tuple(q * (i + 1) - 1 for i in range(4))


def attention_strategy_layout(strategy: str, depth: int,
                              global_block_indexes: Optional[Sequence[int]] = None
                              ) -> Dict[str, Tuple[int, ...]]:
    """Window and checkpoint block indexes of one of the paper's memory strategies.

    ``global_block_indexes``: the global blocks of "window_global" (default: the last
    block of each quarter, the paper's choice; ConvMAE passes its design's four).
    """
    if strategy not in ATTENTION_STRATEGIES:
        raise ValueError(
            f"attention_strategy={strategy!r} is not one of {', '.join(ATTENTION_STRATEGIES)} "
            "(all windowed; windowed + 4 global; all global with activation checkpointing; "
            "all global)."
        )
    everything = tuple(range(depth))
    if strategy == "window":
        return dict(window_block_indexes=everything, checkpoint_block_indexes=())
    if strategy == "window_global":
        glob = set(quarter_block_indexes(depth) if global_block_indexes is None else global_block_indexes)
        return dict(window_block_indexes=tuple(i for i in everything if i not in glob),
                    checkpoint_block_indexes=())
    if strategy == "global_checkpoint":
        return dict(window_block_indexes=(), checkpoint_block_indexes=everything)
    return dict(window_block_indexes=(), checkpoint_block_indexes=())


def block_attention_settings(windowed, window_size, window_shift, rel_pos, grid_size):
    """Per-block ``(window_size, shift_size, decomposed_rel_pos_size)`` for a block stack.

    ``windowed[i]`` says whether block i uses windows; with ``window_shift`` every
    other windowed block is shifted by half a window (Swin); ViTDet's decomposed
    positions are sized to the window or to the global grid.
    """
    settings, windowed_seen = [], 0
    for is_windowed in windowed:
        shift = 0
        if is_windowed:
            if window_shift and windowed_seen % 2 == 1:
                shift = window_size // 2
            windowed_seen += 1
        decomposed = None
        if rel_pos == "decomposed":
            decomposed = (window_size, window_size) if is_windowed else tuple(grid_size)
        settings.append((window_size if is_windowed else 0, shift, decomposed))
    return settings


class Block(nn.Module):
    """Pre-norm transformer block with global or (optionally shifted) windowed attention.

    Args:
        window_size: 0 for global attention, else the side of the square windows.
        shift_size: cyclic shift of the windows (Swin); 0 disables it.
        layer_scale_init_value: > 0 enables BEiT's per-channel layer scale
            (``gamma_1``/``gamma_2``).
        decomposed_rel_pos_size: grid for ViTDet's per-block relative positions.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        norm_layer=nn.LayerNorm,
        act_layer=nn.GELU,
        window_size: int = 0,
        shift_size: int = 0,
        layer_scale_init_value: float = 0.0,
        use_sdpa: bool = True,
        decomposed_rel_pos_size: Optional[Tuple[int, int]] = None,
    ):
        super().__init__()
        if shift_size and not window_size:
            raise ValueError("shift_size needs windowed attention (window_size > 0)")
        self.norm1 = norm_layer(dim)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, use_sdpa=use_sdpa,
                              decomposed_rel_pos_size=decomposed_rel_pos_size)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=act_layer)
        self.window_size = window_size
        self.shift_size = shift_size
        # Activation checkpointing of this block (set from checkpoint_block_indexes).
        self.use_checkpoint = False
        if layer_scale_init_value > 0:
            self.gamma_1 = nn.Parameter(torch.full((dim,), float(layer_scale_init_value)))
            self.gamma_2 = nn.Parameter(torch.full((dim,), float(layer_scale_init_value)))
        else:
            self.gamma_1 = self.gamma_2 = None

    def _attend(self, x: torch.Tensor, attn_bias: Optional[torch.Tensor]) -> torch.Tensor:
        if not self.window_size:
            return self.attn(x, attn_bias)
        H, W = x.shape[1:3]
        ws, shift = self.window_size, self.shift_size
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        windows, pad_hw = window_partition(x, ws)
        if shift:
            mask = shifted_window_mask(pad_hw, ws, shift, device=x.device)  # (nW, N, N)
            nw = mask.shape[0]
            mask = mask[:, None].repeat(windows.shape[0] // nw, 1, 1, 1)  # (B*nW, 1, N, N)
            attn_bias = mask if attn_bias is None else attn_bias + mask
        windows = self.attn(windows, attn_bias)
        x = window_unpartition(windows, ws, pad_hw, (H, W))
        if shift:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        return x

    def forward(self, x: torch.Tensor, attn_bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.use_checkpoint and torch.is_grad_enabled() and x.requires_grad:
            # Non-reentrant checkpointing: correct for tensors reached through
            # arguments or closures (e.g. a LazyRelPosBias table), any subset of blocks.
            return torch.utils.checkpoint.checkpoint(self._forward, x, attn_bias,
                                                     use_reentrant=False)
        return self._forward(x, attn_bias)

    def _forward(self, x: torch.Tensor, attn_bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = self._attend(self.norm1(x), attn_bias)
        if self.gamma_1 is not None:
            y = self.gamma_1 * y
        x = x + self.drop_path(y)
        y = self.mlp(self.norm2(x))
        if self.gamma_2 is not None:
            y = self.gamma_2 * y
        return x + self.drop_path(y)


def build_blocks(
    dim: int,
    num_heads: int,
    drop_path_rates: Sequence[float],
    *,
    window_block_indexes: Sequence[int] = (),
    checkpoint_block_indexes: Sequence[int] = (),
    window_size: int = 0,
    window_shift: bool = False,
    rel_pos: Optional[str] = None,
    grid_size: Optional[Tuple[int, int]] = None,
    mlp_ratio: float = 4.0,
    qkv_bias: bool = True,
    norm_eps: float = 1e-6,
    layer_scale_init_value: float = 0.0,
    use_sdpa: bool = True,
) -> list:
    """One :class:`Block` per entry of ``drop_path_rates``; windowed where listed.

    ``rel_pos="decomposed"`` gives every block ViTDet's per-block tables, sized to its
    window or to ``grid_size`` (global blocks); "shared" and None give none (shared
    tables live beside the stack, see :func:`shared_rel_pos_tables`).
    """
    depth = len(drop_path_rates)
    for name, idx in (("window_block_indexes", window_block_indexes),
                      ("checkpoint_block_indexes", checkpoint_block_indexes)):
        bad = [i for i in idx if not 0 <= i < depth]
        if bad:
            raise ValueError(f"{name} {bad} out of range for depth={depth}")
    settings = block_attention_settings(
        [i in window_block_indexes for i in range(depth)], window_size, window_shift, rel_pos, grid_size)
    blocks = []
    for i, (ws, shift, decomposed) in enumerate(settings):
        block = Block(
            dim, num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop_path=drop_path_rates[i],
            norm_layer=lambda d: nn.LayerNorm(d, eps=norm_eps),
            window_size=ws, shift_size=shift, layer_scale_init_value=layer_scale_init_value,
            use_sdpa=use_sdpa, decomposed_rel_pos_size=decomposed,
        )
        # Checkpointing lives inside Block (torch.utils.checkpoint, non-reentrant):
        # same state-dict keys as fairscale's checkpoint_wrapper, which strips its prefix.
        block.use_checkpoint = i in checkpoint_block_indexes
        blocks.append(block)
    return blocks


def new_abs_pos_embed(shape: Sequence[int], init: str = "random") -> nn.Parameter:
    """A fresh absolute position embedding: trunc-normal(0.02) ("random") or zeros ("zero").

    A checkpoint loader overwrites it with the pre-trained one; the forward resizes it
    to the token grid with :func:`vitdet_bench.layers.attention.resize_abs_pos_embed`
    (or the family's own resize).
    """
    table = nn.Parameter(torch.zeros(*shape))
    if init == "random":
        nn.init.trunc_normal_(table, std=0.02)
    elif init != "zero":
        raise ValueError(f"abs_pos_init must be 'random' or 'zero', got {init!r}")
    return table


def shared_rel_pos_tables(
    num_heads: int, *, has_window: bool, has_global: bool, window_size: int,
    grid_size: Tuple[int, int], init: str = "zero",
) -> Tuple[Optional[RelativePositionBias], Optional[RelativePositionBias]]:
    """The Benchmarking paper's shared BEiT tables: ``(window table, global table)``.

    One table for all windowed blocks (at the window's grid), one for all global blocks
    (at the detection grid); None where no block of that kind exists.
    """
    window = RelativePositionBias((window_size, window_size), num_heads, init=init) if has_window else None
    glob = RelativePositionBias(tuple(grid_size), num_heads, init=init) if has_global else None
    return window, glob


def shared_rel_pos_biases(
    window_table: Optional[RelativePositionBias], global_table: Optional[RelativePositionBias],
    hw: Tuple[int, int], *, use_sdpa: bool, device: torch.device,
):
    """The biases the shared tables give one forward: ``(window bias, global bias)``.

    Built once per forward and handed to every block. The global one is
    ``(heads, N, N)`` (800 MB fp32 for 12 heads at a 64x64 grid): where global
    attention runs query-blocked (CPU, :func:`~vitdet_bench.layers.attention.uses_chunked_attention`)
    it stays a lazy table that the kernel expands block by block; elsewhere it is
    expanded once here.
    """
    window_bias = window_table() if window_table is not None else None
    global_bias = None
    if global_table is not None:
        global_bias = global_table.lazy(hw)
        if not _attention.uses_chunked_attention(use_sdpa, device, hw[0] * hw[1]):
            global_bias = global_bias.dense()
    return window_bias, global_bias


def init_decomposed_rel_pos(blocks: Sequence[nn.Module], std: float = 0.02) -> None:
    """Trunc-normal init of the decomposed tables of every block that has them."""
    for blk in blocks:
        attn = getattr(getattr(blk, "_checkpoint_wrapped_module", blk), "attn", None)
        if attn is not None and getattr(attn, "rel_pos_h", None) is not None:
            nn.init.trunc_normal_(attn.rel_pos_h, std=std)
            nn.init.trunc_normal_(attn.rel_pos_w, std=std)


def init_vit_weights(m: nn.Module) -> None:
    """The ViT init (``module.apply``): trunc-normal(0.02) Linear weights, zero biases,
    unit LayerNorms."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
