#!/usr/bin/env python
r"""Coverage of the bootstrap intervals: how often does a "95%" interval hold the true value?

A synthetic population of ``--population`` images (random boxes over
``--categories`` categories) is detected by two detectors of known behaviour
(``perturb_detections``: jitter, misses, localization / class errors, duplicates,
background boxes; detector B has more localization errors and misses). Their AP,
AP50 and the paired difference A - B are computed on the whole population: the
true values. Then ``--draws`` evaluation sets of each size in ``--sizes`` are drawn
from the population (images i.i.d., as a test set is a sample of the world's
images); on each, the project's paired bootstrap (``--resamples`` resamples of the
set's images) gives an interval of every kind in ``INTERVAL_KINDS``, and we count
how often it contains the true value. The jackknife kinds (``bca``, ``bc-normal``) also
get ``--groups`` leave-one-group-out values of each set (a group: ``n / groups`` of the
set's images, shuffled).

Coverage is printed with its binomial standard error ``sqrt(c (1 - c) / draws)``: the
Monte Carlo error of the study itself. A second table says why an interval misses: the
estimate's bias over the draws (mean of the set's value minus the true value) next to
the bootstrap's estimate of it (mean of resamples minus the set's value), and the
estimate's spread over the draws next to the bootstrap's and the jackknife's.

Both detectors are matched once on the population (COCOeval's matching is per
image and category); an evaluation set and each of its resamples are image
weights on that matching (:class:`ResampledCOCO`), so a set costs ``2 x
(resamples + groups + 1)`` re-accumulations.

    python benchmarks/bench_interval_coverage.py --sizes 100 500 --draws 100   # minutes
    python benchmarks/bench_interval_coverage.py --sizes 100 500 5000 --draws 1000 600 100 \
        --save coverage/                                                   # the docs' table
    python benchmarks/bench_interval_coverage.py --sizes 100 500 5000 --load coverage/
"""
from __future__ import annotations

import argparse
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

METRICS = {"AP": 0, "AP50": 1}


def subset(m, images):
    """The matching restricted to ``images`` (sorted population positions), re-indexed."""
    import numpy as np

    from vitdet_bench.evaluation.coco_fast import Matching

    pos = np.full(m.n_img, -1, np.int64)
    pos[images] = np.arange(len(images))
    dk, gk = pos[m.d_img] >= 0, pos[m.g_img] >= 0
    return Matching(cat_ids=m.cat_ids, n_img=len(images), g_img=pos[m.g_img[gk]],
                    g_cat=m.g_cat[gk], g_ig=m.g_ig[:, gk], d_img=pos[m.d_img[dk]],
                    d_cat=m.d_cat[dk], d_score=m.d_score[dk], rank=m.rank[dk],
                    dt_match=m.dt_match[:, :, dk], dt_ig=m.dt_ig[:, :, dk],
                    d_area_out=m.d_area_out[:, dk])


QUANTITIES = [("A", "AP"), ("A", "AP50"), ("A-B", "AP"), ("A-B", "AP50")]


def collect(m_a, m_b, n, draws, resamples, groups, rng):
    """Per evaluation set of ``n`` images: the two detectors' (AP, AP50) on the set
    ``[draws, 2, 2]``, on its resamples ``[draws, resamples, 2, 2]`` and with each of
    ``groups`` groups left out ``[draws, groups, 2, 2]``."""
    import numpy as np

    from vitdet_bench.evaluation.bootstrap import ResampledCOCO

    est = np.empty((draws, 2, 2))
    boot = np.empty((draws, resamples, 2, 2))
    jack = np.empty((draws, groups, 2, 2))
    for d in range(draws):
        images, inverse = np.unique(rng.integers(0, m_a.n_img, n), return_inverse=True)
        runs = [ResampledCOCO(subset(m, images)) for m in (m_a, m_b)]
        weights = [np.bincount(inverse, minlength=len(images))]
        weights += [np.bincount(inverse[rng.integers(0, n, n)], minlength=len(images))
                    for _ in range(resamples)]
        group = rng.permutation(n) * groups // n
        weights += [np.bincount(inverse[group != g], minlength=len(images)) for g in range(groups)]
        for j, r in enumerate(runs):
            st = np.stack([r.stats(w, recall=False)[:2] * 100 for w in weights])
            est[d, j], boot[d, :, j], jack[d, :, j] = st[0], st[1:resamples + 1], st[resamples + 1:]
    return est, boot, jack


def quantity(arrays, truth, q, metric):
    """(true value, estimates [D], resamples [D, B], jackknife [D, G]) of one quantity."""
    k = METRICS[metric]
    est, boot, jack = arrays
    if q == "A":
        return truth[0, k], est[:, 0, k], boot[:, :, 0, k], jack[:, :, 0, k]
    return (truth[0, k] - truth[1, k], est[:, 0, k] - est[:, 1, k],
            boot[:, :, 0, k] - boot[:, :, 1, k], jack[:, :, 0, k] - jack[:, :, 1, k])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--population", type=int, default=20000)
    p.add_argument("--categories", type=int, default=10)
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 5000])
    p.add_argument("--draws", type=int, nargs="+", default=[200],
                   help="evaluation sets per size (one number, or one per size)")
    p.add_argument("--resamples", type=int, default=200, help="bootstrap resamples per set")
    p.add_argument("--groups", type=int, default=50, help="jackknife groups per set")
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", default=None, help="folder: write each size's values (npz)")
    p.add_argument("--load", default=None, help="folder: read them instead of computing")
    args = p.parse_args(argv)
    if len(args.draws) not in (1, len(args.sizes)):
        p.error(f"--draws: one number or one per size ({len(args.sizes)}), got {args.draws}")
    draws = dict(zip(args.sizes, args.draws * len(args.sizes) if len(args.draws) == 1
                     else args.draws))

    import numpy as np

    import vitdet_bench  # noqa: F401
    from vitdet_bench.evaluation.bootstrap import (DEFAULT_INTERVAL, INTERVAL_KINDS,
                                                   ResampledCOCO, bootstrap_interval)

    data, truth = {}, None
    if args.load:
        for n in args.sizes:
            path = os.path.join(args.load, f"coverage_n{n}_seed{args.seed}.npz")
            if not os.path.isfile(path):
                p.error(f"--load: {path} is missing (written by --save with --sizes {n} "
                        f"--seed {args.seed}).")
            f = np.load(path)
            truth, data[n] = f["truth"], (f["est"], f["boot"], f["jack"])
        print(f"loaded from {args.load}")
    else:
        from vitdet_bench.evaluation import load_ground_truth
        from vitdet_bench.evaluation.coco_fast import match
        from vitdet_bench.evaluation.lvis_eval import random_coco
        from vitdet_bench.evaluation.synthetic import perturb_detections

        t0 = time.perf_counter()
        coco = random_coco(args.population, args.categories, seed=args.seed, max_per_image=8)
        gt = load_ground_truth(coco, iou_types=("bbox",))
        det_a = perturb_detections(coco, seed=args.seed + 1)
        det_b = perturb_detections(coco, seed=args.seed + 2, p_loc=0.25, p_drop=0.18)
        m_a, m_b = match(gt, det_a, progress=False), match(gt, det_b, progress=False)
        ones = np.ones(args.population, np.int64)
        truth = np.stack([ResampledCOCO(m).stats(ones, recall=False)[:2] * 100 for m in (m_a, m_b)])
        print(f"population: {args.population} images, {len(coco['annotations'])} objects, "
              f"{args.categories} categories; A: AP {truth[0, 0]:.2f} AP50 {truth[0, 1]:.2f}; "
              f"B: AP {truth[1, 0]:.2f} AP50 {truth[1, 1]:.2f} ({time.perf_counter() - t0:.0f} s)",
              flush=True)
        for n in args.sizes:
            t0 = time.perf_counter()
            rng = np.random.default_rng(args.seed + 100 + n)     # a size alone gives the same sets
            data[n] = collect(m_a, m_b, n, draws[n], args.resamples, args.groups, rng)
            print(f"size {n}: {draws[n]} sets, {time.perf_counter() - t0:.0f} s", flush=True)
            if args.save:
                os.makedirs(args.save, exist_ok=True)
                np.savez(os.path.join(args.save, f"coverage_n{n}_seed{args.seed}.npz"), truth=truth,
                         est=data[n][0], boot=data[n][1], jack=data[n][2])
    n0 = args.sizes[0]
    print(f"settings: sets per size {[len(data[n][0]) for n in args.sizes]}, "
          f"{data[n0][1].shape[1]} resamples and {data[n0][2].shape[1]} jackknife groups each, "
          f"level {args.level}, seed {args.seed}; default kind {DEFAULT_INTERVAL}")

    print(f"\ncoverage of the {args.level:.0%} interval +- its binomial standard error "
          "(mean width in AP points)\n")
    print("| images | sets | quantity | " + " | ".join(INTERVAL_KINDS) + " |")
    print("|---:|---:|---|" + "---:|" * len(INTERVAL_KINDS))
    diag = []
    for n in args.sizes:
        for q, metric in QUANTITIES:
            true, est, boot, jack = quantity(data[n], truth, q, metric)
            cells = []
            for kind in INTERVAL_KINDS:
                ci = np.array([bootstrap_interval(b, x, args.level, kind, j)
                               for x, b, j in zip(est, boot, jack)])
                c = float(np.mean((ci[:, 0] <= true) & (true <= ci[:, 1])))
                se = np.sqrt(c * (1 - c) / len(est))
                cells.append(f"{c:.1%} +- {se:.1%} ({np.mean(ci[:, 1] - ci[:, 0]):.2f})")
            label = f"{metric} of A" if q == "A" else f"{metric} A - B"
            print(f"| {n} | {len(est)} | {label} | " + " | ".join(cells) + " |")
            g = jack.shape[1]
            se_jack = np.sqrt((g - 1) / g * ((jack - jack.mean(1, keepdims=True)) ** 2).sum(1))
            diag.append(f"| {n} | {label} | {np.mean(est) - true:+.2f} | "
                        f"{np.mean(boot.mean(1) - est):+.2f} | {np.std(est):.2f} | "
                        f"{np.mean(boot.std(1)):.2f} | {np.mean(se_jack):.2f} |")
    print("\nwhy: the estimate's bias and spread over the sets, and what each set's bootstrap / "
          "jackknife says of them (AP points)\n")
    print("| images | quantity | bias | bootstrap bias | spread (sd) | bootstrap sd | jackknife se |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    print("\n".join(diag))
    return 0


if __name__ == "__main__":
    sys.exit(main())
