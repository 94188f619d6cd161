"""The one-gather CPU ROIAlign equals torchvision / detectron2's ROIPooler.

Float64 makes the comparison exact up to summation order (1e-12); float32 is held to
1e-5. Covered: both pooler types (ROIAlign, ROIAlignV2), fixed and adaptive sampling
ratios, boxes beyond the image and on its edge, a zero-size box, a single level and
four levels, gradients w.r.t. every level, and the Mask R-CNN config wiring.
"""
import os

import pytest
import torch

import vitdet_bench  # noqa: F401  (compat patches before detectron2)
from detectron2.modeling.poolers import ROIPooler as D2ROIPooler
from detectron2.structures import Boxes
from torchvision.ops import roi_align as tv_roi_align

from vitdet_bench.layers.roi_align import roi_align_levels
from vitdet_bench.modeling.poolers import ROIPooler

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCALES = [1 / 4, 1 / 8, 1 / 16, 1 / 32]


def _boxes(n, size, gen, dtype):
    xy = torch.rand(n, 2, generator=gen, dtype=dtype) * size * 0.8 - 10
    wh = torch.rand(n, 2, generator=gen, dtype=dtype) * size * 0.6 + 0.5
    b = torch.cat([xy, xy + wh], 1)
    # corner cases: a zero-size box, one larger than the image, one hugging the far edge
    b[0] = torch.tensor([5.0, 5.0, 5.0, 5.0], dtype=dtype)
    b[1] = torch.tensor([-60.0, -40.0, size + 50.0, size + 70.0], dtype=dtype)
    b[2] = torch.tensor([size - 3.0, size - 5.0, size + 0.0, size + 0.0], dtype=dtype)
    return Boxes(b)


def _pyramid(dtype, levels=4, gen=None):
    return [torch.randn(2, 6, 128 // s, 96 // s, generator=gen, dtype=dtype, requires_grad=True)
            for s in (4, 8, 16, 32)[:levels]]


def _grads(out, inputs, seed=3):
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed),
                    dtype=out.dtype).to(out.device)
    grads = torch.autograd.grad(out, inputs, g, allow_unused=True)
    return [torch.zeros_like(x) if d is None else d for x, d in zip(inputs, grads)]


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("pooler_type", ["ROIAlignV2", "ROIAlign"])
@pytest.mark.parametrize("sampling_ratio", [0, 1, 2, 3])
@pytest.mark.parametrize("levels", [1, 4])
def test_pooler_matches_detectron2(dtype, tol, pooler_type, sampling_ratio, levels):
    gen = torch.Generator().manual_seed(sampling_ratio + 10 * levels)
    feats = _pyramid(dtype, levels, gen)
    boxes = [_boxes(25, 128, gen, dtype), _boxes(9, 128, gen, dtype)]
    ref = D2ROIPooler(7, SCALES[:levels], sampling_ratio, pooler_type)(feats, boxes)
    ours = ROIPooler(7, SCALES[:levels], sampling_ratio, pooler_type)(feats, boxes)
    assert ours.shape == ref.shape == (34, 6, 7, 7)
    torch.testing.assert_close(ours, ref, atol=tol, rtol=tol)
    for a, b in zip(_grads(ours, feats), _grads(ref, feats)):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)
    # gathered channels-last: the convolution heads behind it run faster that way
    assert ours.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("aligned", [True, False])
def test_rectangular_output_matches_torchvision(aligned):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 20, 30, generator=gen, dtype=torch.float64, requires_grad=True)
    b = _boxes(12, 120, gen, torch.float64).tensor
    rois = torch.cat([torch.randint(0, 3, (12, 1), generator=gen).double(), b], 1)
    levels = torch.zeros(12, dtype=torch.int64)
    ours = roi_align_levels([x], rois, levels, [0.25], (5, 3), 2, aligned)
    ref = tv_roi_align(x, rois, (5, 3), 0.25, 2, aligned)
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(_grads(ours, [x])[0], _grads(ref, [x])[0], atol=1e-12, rtol=1e-12)


def test_gradcheck():
    gen = torch.Generator().manual_seed(1)
    feats = [torch.randn(1, 2, 8, 8, generator=gen, dtype=torch.float64, requires_grad=True),
             torch.randn(1, 2, 4, 4, generator=gen, dtype=torch.float64, requires_grad=True)]
    rois = torch.tensor([[0, 1.0, 2.0, 20.0, 17.0], [0, 3.0, 1.0, 31.0, 30.0],
                         [0, -2.0, 5.0, 9.0, 9.5]], dtype=torch.float64)
    levels = torch.tensor([0, 1, 0])

    def fn(a, b):
        return roi_align_levels([a, b], rois, levels, [0.25, 0.125], (3, 3), 0, True)

    assert torch.autograd.gradcheck(fn, feats)


def test_empty_and_cuda_fallbacks():
    feats = _pyramid(torch.float32)
    pooler = ROIPooler(7, SCALES, 2, "ROIAlignV2")
    out = pooler(feats, [Boxes(torch.zeros(0, 4)), Boxes(torch.zeros(0, 4))])
    assert out.shape == (0, 6, 7, 7)
    # ROIPool keeps detectron2's implementation
    boxes = [_boxes(5, 128, torch.Generator().manual_seed(0), torch.float32)] * 2
    ref = D2ROIPooler(7, SCALES, 0, "ROIPool")(feats, boxes)
    torch.testing.assert_close(ROIPooler(7, SCALES, 0, "ROIPool")(feats, boxes), ref)


def test_mask_rcnn_config_uses_it():
    from detectron2.config import LazyConfig, instantiate

    cfg = LazyConfig.load(os.path.join(REPO, "configs", "demo", "vit_tiny_shapes.py"))
    model = instantiate(cfg.model)
    assert type(model.roi_heads.box_pooler) is ROIPooler
    assert type(model.roi_heads.mask_pooler) is ROIPooler
    assert model.roi_heads.box_pooler.sampling_ratio == 2
    assert model.roi_heads.mask_pooler.aligned
