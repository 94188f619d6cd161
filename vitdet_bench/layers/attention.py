"""Attention building blocks shared by every backbone family (ViT, ConvMAE, ...).

Tokens travel as ``(B, H, W, C)`` maps so that windowing is a reshape, not a
gather. Positional bias enters attention as one additive ``(heads, N, N)`` (or
``(B, heads, N, N)``) tensor, so the same module runs through PyTorch's fused
``scaled_dot_product_attention`` (memory-efficient kernels on GPU) or through the
explicit softmax reference path; tests hold the two together.

Two relative-position schemes are provided, matching the two recipes:

* :class:`RelativePositionBias` — BEiT's learned ``(2h-1)(2w-1) x heads`` table,
  used by "Benchmarking Detection Transfer Learning with ViTs" (Li et al. 2021)
  as *one table shared by all window blocks and one shared by all global blocks*.
* :func:`decomposed_rel_pos_bias` — ViTDet's (Li et al. 2022) per-block
  decomposed height/width embeddings (from MViTv2).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "Attention",
    "RelativePositionBias",
    "relative_position_index",
    "resize_rel_pos_table",
    "resize_abs_pos_embed",
    "decomposed_rel_pos_bias",
    "window_partition",
    "window_unpartition",
    "shifted_window_mask",
]


# --------------------------------------------------------------------- windows
def window_partition(x: torch.Tensor, window_size: int) -> Tuple[torch.Tensor, Tuple[int, int]]:
    """Split ``(B, H, W, C)`` into ``(B * nW, ws, ws, C)`` windows, zero-padding H and W.

    Returns the windows and the padded size ``(Hp, Wp)``. Padded tokens are zeros
    and are attended to, as in ViTDet (no mask): after LayerNorm they are constant.
    """
    B, H, W, C = x.shape
    pad_h = (window_size - H % window_size) % window_size
    pad_w = (window_size - W % window_size) % window_size
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    Hp, Wp = H + pad_h, W + pad_w
    x = x.view(B, Hp // window_size, window_size, Wp // window_size, window_size, C)
    windows = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size, window_size, C)
    return windows, (Hp, Wp)


def window_unpartition(
    windows: torch.Tensor, window_size: int, pad_hw: Tuple[int, int], hw: Tuple[int, int]
) -> torch.Tensor:
    """Inverse of :func:`window_partition`: back to ``(B, H, W, C)``, padding dropped."""
    Hp, Wp = pad_hw
    H, W = hw
    B = windows.shape[0] // ((Hp // window_size) * (Wp // window_size))
    x = windows.view(B, Hp // window_size, Wp // window_size, window_size, window_size, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(B, Hp, Wp, -1)
    if Hp != H or Wp != W:
        x = x[:, :H, :W, :]
    return x


def shifted_window_mask(
    pad_hw: Tuple[int, int], window_size: int, shift: int, device=None
) -> torch.Tensor:
    """Swin's attention mask for cyclically shifted windows: ``(nW, N, N)`` additive.

    Tokens that wrapped around from the other side of the map must not attend
    to their new neighbours; they get a large negative bias.
    """
    Hp, Wp = pad_hw
    region = torch.zeros(1, Hp, Wp, 1, device=device)
    cnt = 0
    for hs in (slice(0, -window_size), slice(-window_size, -shift), slice(-shift, None)):
        for ws in (slice(0, -window_size), slice(-window_size, -shift), slice(-shift, None)):
            region[:, hs, ws, :] = cnt
            cnt += 1
    win, _ = window_partition(region, window_size)
    win = win.view(-1, window_size * window_size)
    mask = win[:, None, :] - win[:, :, None]
    return mask.ne(0).float() * -100.0


# ----------------------------------------------------- relative position tables
def relative_position_index(size: Tuple[int, int]) -> torch.Tensor:
    """BEiT's ``(N, N)`` index into a ``(2h-1)(2w-1)`` table for an ``h x w`` grid."""
    h, w = size
    coords = torch.stack(torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :]  # (2, N, N)
    rel[0] += h - 1
    rel[1] += w - 1
    return rel[0] * (2 * w - 1) + rel[1]


def resize_rel_pos_table(
    table: torch.Tensor, src_size: Tuple[int, int], dst_size: Tuple[int, int]
) -> torch.Tensor:
    """Resize a ``((2h-1)(2w-1), heads)`` table to another grid by bicubic interpolation.

    The table is viewed as a ``(heads, 2h-1, 2w-1)`` image of biases indexed by
    relative offset and resampled to ``(2h'-1, 2w'-1)`` (align_corners=True keeps
    offset 0 and the extreme offsets at the same places).
    """
    sh, sw = 2 * src_size[0] - 1, 2 * src_size[1] - 1
    dh, dw = 2 * dst_size[0] - 1, 2 * dst_size[1] - 1
    if table.shape[0] != sh * sw:
        raise ValueError(
            f"relative position table has {table.shape[0]} rows, expected {sh}*{sw}={sh * sw} "
            f"for a {src_size[0]}x{src_size[1]} grid"
        )
    if (sh, sw) == (dh, dw):
        return table
    img = table.T.reshape(1, -1, sh, sw).float()
    img = F.interpolate(img, size=(dh, dw), mode="bicubic", align_corners=True)
    return img.reshape(-1, dh * dw).T.to(table.dtype)


def resize_abs_pos_embed(pos_embed: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
    """Resize a ``(1, h, w, C)`` absolute position embedding to ``(1, H, W, C)`` (bicubic)."""
    if pos_embed.shape[1:3] == tuple(hw):
        return pos_embed
    x = F.interpolate(pos_embed.permute(0, 3, 1, 2).float(), size=hw, mode="bicubic",
                      align_corners=False)
    return x.permute(0, 2, 3, 1).to(pos_embed.dtype)


class RelativePositionBias(nn.Module):
    """A BEiT-style learned relative position bias for an ``h x w`` token grid.

    One instance can be shared by many blocks (the Benchmarking paper shares one
    among all window blocks and one among all global blocks); calling it builds
    the ``(heads, N, N)`` bias once per forward. For another grid than the one it
    was built for, the table is resized on the fly with :func:`resize_rel_pos_table`.
    """

    def __init__(self, size: Tuple[int, int], num_heads: int, init: str = "zero"):
        super().__init__()
        self.size = tuple(size)
        self.num_heads = num_heads
        rows = (2 * self.size[0] - 1) * (2 * self.size[1] - 1)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(rows, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(self.size),
                             persistent=False)
        self.reset_parameters(init)

    def reset_parameters(self, init: str = "zero") -> None:
        if init == "zero":
            nn.init.zeros_(self.relative_position_bias_table)
        elif init == "random":
            nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        else:
            raise ValueError(f"relative position bias init must be 'zero' or 'random', got {init!r}")

    def forward(self, size: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        size = self.size if size is None else tuple(size)
        table, index = self.relative_position_bias_table, self.relative_position_index
        if size != self.size:
            table = resize_rel_pos_table(table, self.size, size)
            index = relative_position_index(size).to(table.device)
        n = size[0] * size[1]
        return table[index.view(-1)].view(n, n, -1).permute(2, 0, 1).contiguous()

    def extra_repr(self) -> str:
        return f"size={self.size}, num_heads={self.num_heads}"


# ------------------------------------------------- decomposed (ViTDet) rel-pos
def _rel_pos_embeddings(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """``(q_size, k_size, C)`` embeddings for every query/key offset along one axis."""
    max_dist = 2 * max(q_size, k_size) - 1
    if rel_pos.shape[0] != max_dist:  # trained for another size: resample linearly
        rel_pos = F.interpolate(rel_pos.T[None], size=max_dist, mode="linear")[0].T
    q = torch.arange(q_size, device=rel_pos.device)[:, None] * max(k_size / q_size, 1.0)
    k = torch.arange(k_size, device=rel_pos.device)[None, :] * max(q_size / k_size, 1.0)
    offsets = (q - k) + (k_size - 1) * max(q_size / k_size, 1.0)
    return rel_pos[offsets.long()]


def decomposed_rel_pos_bias(
    q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor,
    q_hw: Tuple[int, int], k_hw: Tuple[int, int],
) -> torch.Tensor:
    """MViTv2/ViTDet decomposed relative position bias.

    ``q`` is ``(B, heads, Nq, C)`` (unscaled). Returns ``(B, heads, Nq, Nk)``:
    ``bias[q, k] = <q, Rh[qh - kh]> + <q, Rw[qw - kw]>``.
    """
    (qh, qw), (kh, kw) = q_hw, k_hw
    Rh = _rel_pos_embeddings(qh, kh, rel_pos_h).to(q.dtype)
    Rw = _rel_pos_embeddings(qw, kw, rel_pos_w).to(q.dtype)
    B, nh, _, C = q.shape
    r_q = q.reshape(B, nh, qh, qw, C)
    rel_h = torch.einsum("bnhwc,hkc->bnhwk", r_q, Rh)
    rel_w = torch.einsum("bnhwc,wkc->bnhwk", r_q, Rw)
    bias = rel_h[..., :, None] + rel_w[..., None, :]  # (B, nh, qh, qw, kh, kw)
    return bias.reshape(B, nh, qh * qw, kh * kw)


# -------------------------------------------------------------------- attention
class Attention(nn.Module):
    """Multi-head self-attention over a ``(B, H, W, C)`` token map.

    Args:
        dim: token channels.
        num_heads: attention heads.
        qkv_bias: learn a bias for q, k and v (BEiT checkpoints carry q and v
            biases only; the loader fills k with zeros).
        use_sdpa: use ``F.scaled_dot_product_attention`` (fused kernels); otherwise
            the explicit reference path, whose softmax always runs in fp32.
        decomposed_rel_pos_size: if given, the ``(h, w)`` grid this block attends
            over; enables ViTDet's per-block decomposed relative positions.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        use_sdpa: bool = True,
        decomposed_rel_pos_size: Optional[Tuple[int, int]] = None,
    ):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.use_sdpa = use_sdpa
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.decomposed_rel_pos_size = decomposed_rel_pos_size
        if decomposed_rel_pos_size is not None:
            h, w = decomposed_rel_pos_size
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * h - 1, self.head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * w - 1, self.head_dim))

    def forward(self, x: torch.Tensor, attn_bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``x``: ``(B, H, W, C)``; ``attn_bias``: additive, broadcastable to ``(B, heads, N, N)``."""
        B, H, W, C = x.shape
        N = H * W
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B, heads, N, head_dim)

        if self.decomposed_rel_pos_size is not None:
            rel = decomposed_rel_pos_bias(q, self.rel_pos_h, self.rel_pos_w, (H, W), (H, W))
            attn_bias = rel if attn_bias is None else rel + attn_bias

        if self.use_sdpa:
            mask = None if attn_bias is None else attn_bias.to(q.dtype)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)
            if attn_bias is not None:
                attn = attn + attn_bias
            # Softmax in fp32 even under AMP: large logits overflow fp16.
            attn = attn.float().softmax(dim=-1).to(v.dtype)
            out = attn @ v
        out = out.transpose(1, 2).reshape(B, H, W, C)
        return self.proj(out)

    def extra_repr(self) -> str:
        return f"num_heads={self.num_heads}, use_sdpa={self.use_sdpa}"

