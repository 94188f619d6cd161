"""Bootstrap interval kinds: their formulas, the default, and an interval that holds its own AP."""
from __future__ import annotations

import numpy as np
import pytest
from eval_fixtures import coco128_json, load_json

from vitdet_bench.evaluation import load_ground_truth
from vitdet_bench.evaluation.bootstrap import (DEFAULT_INTERVAL, INTERVAL_KINDS, ResampledCOCO,
                                               bootstrap_interval, bootstrap_stats,
                                               paired_difference, percentile_interval)
from vitdet_bench.evaluation.coco_fast import match
from vitdet_bench.evaluation.synthetic import perturb_detections


def test_interval_formulas():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 1.0, 4000) ** 2                  # skewed
    est = 8.0
    lo, hi = np.percentile(x, [2.5, 97.5])
    assert bootstrap_interval(x, est, kind="percentile") == percentile_interval(x)
    assert bootstrap_interval(x, est, kind="basic") == pytest.approx([2 * est - hi, 2 * est - lo])
    # bc: z0 from the share below the estimate, levels Phi(2 z0 -+ 1.96)
    from statistics import NormalDist

    nd = NormalDist()
    z0 = nd.inv_cdf(np.mean(x < est))
    q = [100 * nd.cdf(2 * z0 - 1.959963984540054), 100 * nd.cdf(2 * z0 + 1.959963984540054)]
    assert bootstrap_interval(x, est, kind="bc") == pytest.approx(list(np.percentile(x, q)))
    # an estimate at the median: bc is the percentile interval
    assert bootstrap_interval(x, float(np.median(x)), kind="bc") == pytest.approx([lo, hi], rel=1e-3)
    assert bootstrap_interval([np.nan, np.nan], 1.0) is None
    assert bootstrap_interval(x, None, kind="basic") is None
    with pytest.raises(ValueError, match="interval kind"):
        bootstrap_interval(x, est, kind="bca")
    d = paired_difference(x, np.zeros_like(x), kind="basic", estimate=est)
    assert d["interval"] == pytest.approx([2 * est - hi, 2 * est - lo])
    assert d["significant"] == (not d["interval"][0] <= 0 <= d["interval"][1])


def test_default_is_a_bias_corrected_kind():
    # docs/analysis.md's coverage table: the percentile interval under-covers AP
    assert DEFAULT_INTERVAL in INTERVAL_KINDS and DEFAULT_INTERVAL != "percentile"


def test_default_interval_holds_its_own_ap_on_100_images():
    """On 100 images the percentile interval sits above the AP it is about (the envelope
    bias); the default interval contains the AP, box and mask."""
    coco = load_json(coco128_json())
    keep = {im["id"] for im in sorted(coco["images"], key=lambda im: im["id"])[:100]}
    coco = {"images": [im for im in coco["images"] if im["id"] in keep],
            "annotations": [a for a in coco["annotations"] if a["image_id"] in keep],
            "categories": coco["categories"]}
    res = perturb_detections(coco, seed=0, masks=True, dets_per_image=30)
    for iou_type in ("bbox", "segm"):
        gt = load_ground_truth(coco, iou_types=(iou_type,))
        rs = ResampledCOCO(match(gt, res, iou_type, progress=False))
        ap = rs.stats(np.ones(rs.n_img, np.int64), recall=False)[0] * 100
        boot = bootstrap_stats([rs], 400, seed=0, progress=False, recall=False)[0, :, 0] * 100
        pct = bootstrap_interval(boot, ap, kind="percentile")
        assert np.median(boot) > ap                       # resampled APs sit above
        assert (pct[0] + pct[1]) / 2 > ap
        lo, hi = bootstrap_interval(boot, ap)             # the default kind
        assert lo < ap < hi, (iou_type, ap, lo, hi, pct)
