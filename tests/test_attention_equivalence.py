"""SDPA, query-blocked (chunked) and reference attention agree in outputs and gradients (fp32, 1e-5)."""
import pytest
import torch

import vitdet_bench  # noqa: F401
from vitdet_bench.layers import attention as A

TOL = dict(atol=1e-5, rtol=1e-5)


def _grads(fn, inputs):
    out = fn()
    g = torch.randn_like(out, generator=torch.Generator().manual_seed(1))
    grads = torch.autograd.grad(out, inputs, g)
    return out, grads


def _check(paths, inputs):
    ref_out, ref_g = _grads(paths[0], inputs)
    for fn in paths[1:]:
        out, g = _grads(fn, inputs)
        torch.testing.assert_close(out, ref_out, **TOL)
        for a, b in zip(g, ref_g):
            torch.testing.assert_close(a, b, **TOL)


def _reference(q, k, v, bias):
    attn = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    if bias is not None:
        attn = attn + bias
    return attn.softmax(-1) @ v


@pytest.mark.parametrize("bias_shape", [None, (3, 20, 20), (2, 3, 20, 20), (2, 1, 20, 20)])
@pytest.mark.parametrize("rows", [1, 7, 20])
def test_chunked_matches_reference_dense_bias(bias_shape, rows):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 20, 8, generator=g, requires_grad=True) for _ in range(3))
    inputs = [q, k, v]
    bias = None
    if bias_shape is not None:
        bias = torch.randn(*bias_shape, generator=g, requires_grad=True)
        inputs.append(bias)
    _check([lambda: _reference(q, k, v, bias),
            lambda: A.chunked_attention(q, k, v, bias, rows=rows),
            lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias)],
           inputs)


@pytest.mark.parametrize("grid,resize", [((4, 5), False), ((5, 4), False), ((3, 3), True)])
@pytest.mark.parametrize("rows", [5, 8, 100])
def test_chunked_lazy_table_matches_dense(grid, resize, rows):
    """Blocks of whole grid rows, including a shorter last block (5x4 grid, 8 rows)."""
    rpb = A.RelativePositionBias((3, 3) if resize else grid, num_heads=2, init="random")
    size = (4, 4) if resize else grid
    n = size[0] * size[1]
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 2, n, 8, generator=g, requires_grad=True) for _ in range(3))
    inputs = [q, k, v, rpb.relative_position_bias_table]
    _check([lambda: _reference(q, k, v, rpb(size)),
            lambda: A.chunked_attention(q, k, v, rpb.lazy(size), rows=rows),
            lambda: _reference(q, k, v, rpb.lazy(size).dense())], inputs)


def test_chunked_low_precision_inputs_compute_in_fp32():
    """bf16 q/k/v/table: fp32 inside, outputs and gradients in the callers' dtypes."""
    rpb = A.RelativePositionBias((4, 4), num_heads=2, init="random")
    g = torch.Generator().manual_seed(0)
    q32, k32, v32 = (torch.randn(1, 2, 16, 8, generator=g) for _ in range(3))
    q, k, v = (t.bfloat16().requires_grad_() for t in (q32, k32, v32))
    out = A.chunked_attention(q, k, v, rpb.lazy(), rows=8)
    assert out.dtype == torch.bfloat16
    ref = _reference(q.float(), k.float(), v.float(), rpb())
    torch.testing.assert_close(out.float(), ref, atol=2e-2, rtol=2e-2)
    dq, dk, dv = torch.autograd.grad(out.float().sum(), [q, k, v])
    assert dq.dtype == dk.dtype == dv.dtype == torch.bfloat16


def test_rel_pos_index_rows_and_dense_bias():
    rpb = A.RelativePositionBias((3, 4), num_heads=2, init="random")
    full = A.relative_position_index((3, 4))
    table = rpb.relative_position_bias_table
    old = table[full.view(-1)].view(12, 12, -1).permute(2, 0, 1)
    torch.testing.assert_close(rpb(), old)


@pytest.mark.parametrize("decomposed", [False, True])
def test_attention_module_paths_agree(monkeypatch, decomposed):
    """Attention(use_sdpa=True) on CPU: SDPA below the threshold, chunked above; both = reference."""
    torch.manual_seed(0)
    m = A.Attention(16, num_heads=2, decomposed_rel_pos_size=(4, 5) if decomposed else None)
    if decomposed:
        torch.nn.init.normal_(m.rel_pos_h, std=0.5)
        torch.nn.init.normal_(m.rel_pos_w, std=0.5)
    rpb = A.RelativePositionBias((4, 5), 2, init="random")
    x = torch.randn(2, 4, 5, 16, requires_grad=True)
    params = [x, rpb.relative_position_bias_table] + list(m.parameters())

    def run(use_sdpa, chunk_min, lazy):
        monkeypatch.setattr(A, "CPU_CHUNKED_MIN_TOKENS", chunk_min)
        m.use_sdpa = use_sdpa
        return m(x, rpb.lazy() if lazy else rpb())

    _check([lambda: run(False, 0, False), lambda: run(True, 0, False),
            lambda: run(True, 1, True), lambda: run(True, 1, False), lambda: run(False, 0, True)],
           params)
