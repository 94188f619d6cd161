"""Bootstrap interval kinds: their formulas, the default, and an interval that holds its own AP."""
from __future__ import annotations

import numpy as np
import pytest
from eval_fixtures import coco128_json, load_json

from vitdet_bench.evaluation import load_ground_truth
from vitdet_bench.evaluation.bootstrap import (DEFAULT_INTERVAL, INTERVAL_KINDS, JACKKNIFE_KINDS,
                                               ResampledCOCO, bootstrap_interval, bootstrap_stats,
                                               jackknife_stats, paired_difference,
                                               percentile_interval)
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
        bootstrap_interval(x, est, kind="studentized")
    d = paired_difference(x, np.zeros_like(x), kind="basic", estimate=est)
    assert d["interval"] == pytest.approx([2 * est - hi, 2 * est - lo])
    assert d["significant"] == (not d["interval"][0] <= 0 <= d["interval"][1])


def test_jackknife_interval_formulas():
    from statistics import NormalDist

    nd = NormalDist()
    z = nd.inv_cdf(0.975)
    rng = np.random.default_rng(1)
    x = rng.gamma(4.0, 1.0, 3000)                         # skewed bootstrap samples
    est = 3.5
    jk = est + rng.gamma(2.0, 0.05, 40) - 0.1             # skewed jackknife values
    d = jk.mean() - jk
    # bca: acceleration a = sum d^3 / (6 (sum d^2)^1.5), levels Phi(z0 + (z0 +- z) / (1 - a (z0 +- z)))
    a = np.sum(d ** 3) / (6 * np.sum(d ** 2) ** 1.5)
    assert abs(a) > 0.01
    z0 = nd.inv_cdf(np.mean(x < est))
    q = [100 * nd.cdf(z0 + (z0 + zz) / (1 - a * (z0 + zz))) for zz in (-z, z)]
    assert bootstrap_interval(x, est, kind="bca", jackknife=jk) == pytest.approx(
        list(np.percentile(x, q)))
    # no skew in the jackknife values: bca is bc
    sym = np.r_[jk, 2 * jk.mean() - jk]
    assert bootstrap_interval(x, est, kind="bca", jackknife=sym) == pytest.approx(
        bootstrap_interval(x, est, kind="bc"))
    # bc-normal: the estimate minus the bootstrap bias, -+ z times the jackknife standard error
    centre = est - (x.mean() - est)
    se = np.sqrt((len(jk) - 1) / len(jk) * np.sum(d ** 2))
    assert bootstrap_interval(x, est, kind="bc-normal", jackknife=jk) == pytest.approx(
        [centre - z * se, centre + z * se])
    for kind in JACKKNIFE_KINDS:
        with pytest.raises(ValueError, match="jackknife"):
            bootstrap_interval(x, est, kind=kind)
        assert bootstrap_interval(x, est, kind=kind, jackknife=np.r_[jk, np.nan]) is None
    # a paired difference takes the difference of the two runs' jackknife values
    y = rng.gamma(4.0, 1.0, 3000)
    jy = rng.normal(1.0, 0.1, 40)
    got = paired_difference(x, y, kind="bc-normal", estimate=0.5, jackknife_a=jk, jackknife_b=jy)
    assert got["interval"] == pytest.approx(
        bootstrap_interval(x - y, 0.5, kind="bc-normal", jackknife=jk - jy))


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
        jack = jackknife_stats([rs], seed=0)[0, :, 0] * 100
        pct = bootstrap_interval(boot, ap, kind="percentile")
        assert np.median(boot) > ap                       # resampled APs sit above
        assert (pct[0] + pct[1]) / 2 > ap
        lo, hi = bootstrap_interval(boot, ap, jackknife=jack)     # the default kind
        assert lo < ap < hi, (iou_type, ap, lo, hi, pct)
        assert (lo + hi) / 2 < ap                         # centred below: the bias removed
