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

import contextlib
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
    "LazyRelPosBias",
    "chunked_attention",
    "CPU_CHUNKED_MIN_TOKENS",
    "uses_chunked_attention",
    "chunked_attention_disabled",
]

# Global attention on CPU at or above this many tokens goes through
# :func:`chunked_attention` (query-blocked, recomputing backward, no N x N tensor
# kept for backward). 0 disables the chunked path. Tests lower it to exercise it.
CPU_CHUNKED_MIN_TOKENS = 1024
# Bytes of fp32 scores one query block may hold (B * heads * rows * N * 4).
CPU_CHUNK_BYTES = 64 << 20


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
    # Bicubic in at least fp32 (half tables under AMP), in fp64 for a fp64 model.
    img = table.T.reshape(1, -1, sh, sw).to(torch.promote_types(table.dtype, torch.float32))
    img = F.interpolate(img, size=(dh, dw), mode="bicubic", align_corners=True)
    return img.reshape(-1, dh * dw).T.to(table.dtype)


def resize_abs_pos_embed(pos_embed: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
    """Resize a ``(1, h, w, C)`` absolute position embedding to ``(1, H, W, C)`` (bicubic)."""
    if pos_embed.shape[1:3] == tuple(hw):
        return pos_embed
    # Bicubic in at least fp32 (half tables under AMP), in fp64 for a fp64 model.
    x = pos_embed.permute(0, 3, 1, 2).to(torch.promote_types(pos_embed.dtype, torch.float32))
    x = F.interpolate(x, size=hw, mode="bicubic", align_corners=False)
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
        # Gather straight into (heads, N*N): one materialized tensor, no permute copy.
        return torch.index_select(table.t(), 1, index.reshape(-1)).view(-1, n, n)

    def lazy(self, size: Optional[Tuple[int, int]] = None) -> "LazyRelPosBias":
        """The bias as a :class:`LazyRelPosBias`: gathered block by block where it is used."""
        size = self.size if size is None else tuple(size)
        table = self.relative_position_bias_table
        if size != self.size:
            table = resize_rel_pos_table(table, self.size, size)
        return LazyRelPosBias(table, size, self if size == self.size else None)

    def extra_repr(self) -> str:
        return f"size={self.size}, num_heads={self.num_heads}"


class LazyRelPosBias:
    """A shared BEiT relative-position bias that is not materialized as ``(heads, N, N)``.

    The chunked CPU attention expands the rows it needs from a strided view of the
    ``(rows, heads)`` table block by block and adds gradients straight back into it; the
    dense paths (SDPA, reference) call :meth:`dense`, which builds the tensor once
    per forward and caches it for all blocks sharing this object.
    """

    def __init__(self, table: torch.Tensor, size: Tuple[int, int],
                 module: Optional[RelativePositionBias] = None):
        self.table = table
        self.size = tuple(size)
        self._module = module
        self._dense: Optional[torch.Tensor] = None

    @property
    def num_tokens(self) -> int:
        return self.size[0] * self.size[1]

    def dense(self) -> torch.Tensor:
        if self._dense is None:
            if self._module is not None:
                index = self._module.relative_position_index
            else:
                index = relative_position_index(self.size).to(self.table.device)
            n = self.num_tokens
            self._dense = torch.index_select(self.table.t(), 1, index.reshape(-1)).view(-1, n, n)
        return self._dense


def uses_chunked_attention(use_sdpa: bool, device: torch.device, num_tokens: int) -> bool:
    """Whether :class:`Attention` takes the query-blocked CPU path for this input."""
    return bool(use_sdpa) and torch.device(device).type == "cpu" and \
        0 < CPU_CHUNKED_MIN_TOKENS <= num_tokens


@contextlib.contextmanager
def chunked_attention_disabled():
    """Within the block, CPU global attention takes the SDPA path instead of the
    query-blocked kernel (same numbers, more memory). The JIT tracer cannot follow the
    kernel's autograd Function, so FLOP counting runs under this."""
    global CPU_CHUNKED_MIN_TOKENS
    saved = CPU_CHUNKED_MIN_TOKENS
    CPU_CHUNKED_MIN_TOKENS = 0
    try:
        yield
    finally:
        CPU_CHUNKED_MIN_TOKENS = saved


def _dense_bias(bias):
    return bias.dense() if isinstance(bias, LazyRelPosBias) else bias


def _table_bias_view(table_t: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
    """``(heads, h, w, h, w)`` strided *view* of a BEiT table for keys in reversed order.

    With the key grid flipped (``c' = h-1-c``, ``d' = w-1-d``) the bias of query
    ``(a, b)`` and key ``(c', d')`` is ``table[a + c', b + d']``: every stride is
    positive, so the bias of a block of query rows is a strided view of the small
    table (copied once per block) instead of a gather through an ``N x N`` index.
    """
    h, w = grid
    nh = table_t.shape[0]
    t = table_t.contiguous()
    return t.as_strided((nh, h, w, h, w), (t.stride(0), 2 * w - 1, 1, 2 * w - 1, 1))


def _table_index_view(grid: Tuple[int, int], device=None) -> torch.Tensor:
    """``(h, w, h, w)`` table-row index matching :func:`_table_bias_view` (keys reversed)."""
    h, w = grid
    rows = torch.arange((2 * h - 1) * (2 * w - 1), device=device)
    return rows.as_strided((h, w, h, w), (2 * w - 1, 1, 2 * w - 1, 1))


def _block_scores(s, qs, kt, i0, i1, B, nh, bias, tview, grid):
    """Write the scaled scores of query rows ``i0:i1`` plus their bias into ``s``.

    ``s`` is a reused ``(B*nh, rows, N)`` fp32 workspace: fresh 64 MB tensors cost a
    page fault per 4 KB on first touch, which on CPU takes longer than the GEMM
    itself. The bias is copied in first and the GEMM accumulates onto it
    (``baddbmm_``). ``tview`` is the strided table view of :func:`_table_bias_view`
    (rows are whole grid rows of width ``grid[1]``). Shared by forward and the
    backward recomputation so both see the same logits.
    """
    qi = qs[:, i0:i1]
    r, n = i1 - i0, kt.shape[-1]
    if tview is not None:
        h, w = grid
        s.view(B, nh, r // w, w, h, w).copy_(tview[:, i0 // w:i1 // w])
        s.baddbmm_(qi, kt)
    elif bias is not None:
        s.view(B, nh, r, n).copy_(bias[..., i0:i1, :])
        s.baddbmm_(qi, kt)
    else:
        torch.bmm(qi, kt, out=s)
    return s


def _workspace(buf: torch.Tensor, r: int) -> torch.Tensor:
    """The first ``r`` rows of a ``(BH, rows, N)`` workspace as a contiguous tensor."""
    bh, _, n = buf.shape
    return buf.view(-1)[: bh * r * n].view(bh, r, n)


class _ChunkedAttention(torch.autograd.Function):
    """Query-blocked exact attention with an additive bias; backward recomputes scores.

    Memory: only ``q, k, v``, the output and the per-row log-sum-exp are saved;
    the ``(B, heads, rows, N)`` scores of one query block are the largest
    temporary (two of them in backward), allocated once per call and reused by
    every block. A rel-pos ``table`` is expanded per block from a strided view
    (keys taken in reversed grid order, see :func:`_table_bias_view`) and its
    gradient is ``index_add_``-ed per block into the table, so neither the
    ``(heads, N, N)`` bias nor its gradient ever exists. Speed: the GEMM accumulates
    onto the bias in place, the scale is folded into ``q`` once, the softmax
    normalisation divides the ``(rows, d)`` output instead of the ``(rows, N)``
    probabilities, and dK/dV accumulate in place (``baddbmm_``). Computes in fp32.
    """

    @staticmethod
    def forward(ctx, q, k, v, bias, table, grid, scale, rows):
        B, nh, N, d = q.shape
        ctx.dtypes = (q.dtype, k.dtype, v.dtype, None if bias is None else bias.dtype,
                      None if table is None else table.dtype)
        f32 = torch.float32
        # (B*nh, N, d) contiguous fp32; scale folded into q once (exact up to rounding).
        qs = (q.to(f32) * scale).reshape(B * nh, N, d)
        tview = None
        if table is not None:  # keys (and values) in reversed grid order, see above
            k, v = k.flip(2), v.flip(2)
            rows = max(1, rows // grid[1]) * grid[1]
            tview = _table_bias_view(table.to(f32).t(), grid)
        if bias is not None:
            bias = bias.to(f32)
        kf = k.to(f32).reshape(B * nh, N, d)
        vf = v.to(f32).reshape(B * nh, N, d)
        kt = kf.transpose(1, 2)
        rows = min(rows, N)
        out = torch.empty(B * nh, N, d, dtype=f32, device=q.device)
        lse = torch.empty(B * nh, N, 1, dtype=f32, device=q.device)
        ws = torch.empty(B * nh, rows, N, dtype=f32, device=q.device)
        for i0 in range(0, N, rows):
            i1 = min(N, i0 + rows)
            s = _block_scores(_workspace(ws, i1 - i0), qs, kt, i0, i1, B, nh, bias, tview, grid)
            m = s.amax(dim=-1, keepdim=True)
            s.sub_(m).exp_()
            ssum = s.sum(dim=-1, keepdim=True)
            lse[:, i0:i1] = m + ssum.log()
            out[:, i0:i1] = torch.bmm(s, vf).div_(ssum)
        del ws
        out = out.view(B, nh, N, d)
        ctx.save_for_backward(qs, kf, vf, out, lse, bias, table)
        ctx.grid, ctx.scale, ctx.rows = grid, scale, rows
        return out.to(q.dtype)

    @staticmethod
    def backward(ctx, dout):
        qs, kf, vf, out, lse, bias, table = ctx.saved_tensors
        grid, scale, rows = ctx.grid, ctx.scale, ctx.rows
        B, nh, N, d = out.shape
        f32 = torch.float32
        dout = dout.to(f32).reshape(B * nh, N, d)
        need_bias = bias is not None and ctx.needs_input_grad[3]
        need_table = table is not None and ctx.needs_input_grad[4]
        dq = torch.empty_like(qs)
        dk = torch.zeros_like(kf)
        dv = torch.zeros_like(vf)
        dbias = torch.zeros_like(bias) if need_bias else None
        tview = dtable = index0 = None
        if table is not None:
            h, w = grid
            tview = _table_bias_view(table.to(f32).t(), grid)
            if need_table:
                dtable = torch.zeros(nh, table.shape[0], dtype=f32, device=table.device)
                # Table rows of the first block; block starting at grid row a0 reads the
                # same pattern shifted by a0 * (2w - 1) rows.
                index0 = _table_index_view(grid, table.device)[: rows // w].reshape(-1)
        kt, vt = kf.transpose(1, 2), vf.transpose(1, 2)
        delta = (dout * out.reshape(B * nh, N, d)).sum(-1, keepdim=True)
        ws_p = torch.empty(B * nh, rows, N, dtype=f32, device=qs.device)
        ws_ds = torch.empty_like(ws_p)
        for i0 in range(0, N, rows):
            i1 = min(N, i0 + rows)
            r = i1 - i0
            qi, doi = qs[:, i0:i1], dout[:, i0:i1]
            p = _block_scores(_workspace(ws_p, r), qs, kt, i0, i1, B, nh, bias, tview, grid)
            p.sub_(lse[:, i0:i1]).exp_()  # probabilities
            dv.baddbmm_(p.transpose(1, 2), doi)
            ds = torch.bmm(doi, vt, out=_workspace(ws_ds, r))
            ds.sub_(delta[:, i0:i1]).mul_(p)  # d(scores)
            if need_bias:
                g = ds.view(B, nh, r, N)
                dbias[..., i0:i1, :] += g.sum_to_size(dbias[..., i0:i1, :].shape)
            if need_table:
                g = ds.view(B, nh, r * N).sum(0) if B > 1 else ds.view(nh, r * N)
                dtable[:, (i0 // w) * (2 * w - 1):].index_add_(1, index0[: r * N], g)
            dq[:, i0:i1] = torch.bmm(ds, kf)
            dk.baddbmm_(ds.transpose(1, 2), qi)
        del ws_p, ws_ds
        dq = dq.mul_(scale).view(B, nh, N, d)
        dk = dk.view(B, nh, N, d)
        dv = dv.view(B, nh, N, d)
        if table is not None:  # back to the caller's key order
            dk, dv = dk.flip(2), dv.flip(2)
        qdt, kdt, vdt, bdt, tdt = ctx.dtypes
        return (dq.to(qdt), dk.to(kdt), dv.to(vdt),
                None if dbias is None else dbias.to(bdt),
                None if dtable is None else dtable.t().to(tdt), None, None, None)


def chunked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_bias=None,
                      scale: Optional[float] = None, rows: Optional[int] = None) -> torch.Tensor:
    """Exact softmax attention of ``(B, heads, N, d)`` tensors, one query block at a time.

    ``attn_bias``: ``None``, a dense additive tensor broadcastable to
    ``(B, heads, N, N)``, or a :class:`LazyRelPosBias`. Same result and gradients
    as the reference path (tests hold them to 1e-5), without keeping any ``N x N``
    tensor for backward: the CPU analogue of the fused memory-efficient kernels.
    """
    B, nh, N, d = q.shape
    scale = d ** -0.5 if scale is None else scale
    if rows is None:
        rows = max(1, min(N, CPU_CHUNK_BYTES // max(1, B * nh * N * 4)))
    bias = table = None
    grid = None
    if isinstance(attn_bias, LazyRelPosBias):
        if attn_bias.num_tokens != N:
            raise ValueError(f"relative-position bias is for {attn_bias.size}, got {N} tokens")
        table, grid = attn_bias.table, attn_bias.size
    elif attn_bias is not None:
        bias = attn_bias
    return _ChunkedAttention.apply(q, k, v, bias, table, grid, scale, rows)


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
            attn_bias = rel if attn_bias is None else rel.add_(_dense_bias(attn_bias))

        if uses_chunked_attention(self.use_sdpa, q.device, N):
            # CPU SDPA with a float mask falls back to the math path (N x N tensors
            # kept for backward); the query-blocked kernel keeps none.
            out = chunked_attention(q, k, v, attn_bias, scale=self.scale)
        elif self.use_sdpa:
            attn_bias = _dense_bias(attn_bias)
            mask = None if attn_bias is None else attn_bias.to(q.dtype)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            attn_bias = _dense_bias(attn_bias)
            attn = (q * self.scale) @ k.transpose(-2, -1)
            # Softmax in fp32 even under AMP: large logits overflow fp16.
            attn = attn.float()
            if attn_bias is not None:
                attn += attn_bias  # in place: the matmul output is not needed for backward
            attn = attn.softmax(dim=-1).to(v.dtype)
            out = attn @ v
        out = out.transpose(1, 2).reshape(B, H, W, C)
        return self.proj(out)

    def extra_repr(self) -> str:
        return f"num_heads={self.num_heads}, use_sdpa={self.use_sdpa}"

