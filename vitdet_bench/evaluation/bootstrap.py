"""Paired bootstrap over images: COCO metrics of resampled evaluation sets, exactly and fast.

A resample draws the evaluation set's images with replacement; an image drawn
k times counts k times (its ground truth and its detections). The COCO metrics
of a resample are *defined* as those of the physically duplicated dataset (each
copy of an image a new image whose id sorts right after the original's, so
score ties keep their order), evaluated by pycocotools' COCOeval; this module
returns those numbers bit for bit (tests/test_eval_bootstrap.py) without
building the dataset:

* COCOeval's matching is per (image, category), so a copy matches exactly like
  its original: :func:`.coco_fast.match` runs once per run and IoU type.
* Each resample only re-accumulates, with image weights ``w``. In a category's
  score order, precision is read at true positives only: COCOeval's
  interpolated precision at recall r is the maximum of ``n / (n + f + eps)`` over
  the true-positive events ``n >= n*(r)`` (``f`` false positives before the n-th
  true positive), because precision falls along false positives and rises along
  true positives. A detection with weight k is k consecutive events with the same
  ``f``, whose maximum is the last one; so a resample costs one weighted cumulative
  sum over the detections (false positives before each true positive) and work
  proportional to the number of true positives, for all areas and IoU thresholds
  in one pass. The only place copies interleave is a run of detections of one
  image and category with the *same* score (copy-major order): those are expanded
  event by event.
* Precision / recall arrays then go through the same summary reductions as
  COCOeval.summarize, so a weight vector of ones gives the full-set numbers.

One quirk does not carry over: pycocotools counts a match to a GT whose
annotation id is 0 as no match; copies keep the original's behaviour.
"""
from __future__ import annotations

import numpy as np

from .coco_fast import AREA_RNG, IOU_THRS, MAX_DETS, REC_THRS, Matching
from .tide import _segments

__all__ = ["ResampledCOCO", "resample_weights", "bootstrap_stats", "jackknife_groups",
           "jackknife_stats", "percentile_interval", "bootstrap_interval", "paired_difference",
           "INTERVAL_KINDS", "JACKKNIFE_KINDS", "DEFAULT_INTERVAL", "JACKKNIFE_GROUPS"]

# Interval kinds (docs/analysis.md, "Interval kinds and their coverage"): percentile
# [q_lo, q_hi]; basic (reverse percentile) [2 x - q_hi, 2 x - q_lo]; bc, the bias-corrected
# percentile: the percentile levels moved by z0 = Phi^-1(share of resamples below x); bca,
# bc with the acceleration from a grouped jackknife; bc-normal, x minus the bootstrap bias
# estimate, plus or minus z times the grouped jackknife's standard error.
INTERVAL_KINDS = ("percentile", "basic", "bc", "bca", "bc-normal")
JACKKNIFE_KINDS = ("bca", "bc-normal")          # need leave-one-group-out values
DEFAULT_INTERVAL = "bc-normal"
JACKKNIFE_GROUPS = 50

_R = len(REC_THRS)
# recall exactly r / 100 passes COCOeval's test rc >= REC_THRS[r] where linspace rounded down
_EQ_OK = np.array([r / 100 >= REC_THRS[r] for r in range(_R)])


def resample_weights(n_img: int, resamples: int, seed: int = 0):
    """``resamples`` image-weight vectors (draw counts of ``n_img`` draws with replacement)."""
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        yield np.bincount(rng.integers(0, n_img, n_img), minlength=n_img)


class ResampledCOCO:
    """COCOeval's 12 summary stats of one run under any image weights (see module doc)."""

    def __init__(self, m: Matching):
        A, T, K = len(AREA_RNG), len(IOU_THRS), len(m.cat_ids)
        self.A, self.T, self.K, self.n_img = A, T, K, m.n_img
        order = np.lexsort((m.rank, m.d_img, -m.d_score, m.d_cat))     # accumulate's order
        nd = len(order)
        self.nd = nd
        self.d_img = m.d_img[order]
        cat = m.d_cat[order]
        c_start, _ = _segments(cat, K)
        inr = ~m.d_area_out[:, order]                                    # [A, nd] in area range
        # per area, the in-range detections' images; a true positive at sorted position p reads
        # the weighted count of in-range detections before p (and before its category start)
        in_pos = [np.flatnonzero(inr[a]) for a in range(A)]
        self.inr_img = [self.d_img[p].astype(np.intp) for p in in_pos]
        self.inr_off = np.cumsum([0] + [len(p) + 1 for p in in_pos])
        # runs of one (category, score, image) in that order: copies interleave inside them
        if nd:
            new_block = np.r_[True, (cat[1:] != cat[:-1]) | (m.d_score[order][1:] != m.d_score[order][:-1])
                              | (self.d_img[1:] != self.d_img[:-1])]
        else:
            new_block = np.zeros(0, bool)
        bid = np.cumsum(new_block) - 1
        b_start = np.flatnonzero(new_block)
        b_size = np.diff(np.r_[b_start, nd])
        in_tie = b_size[bid] > 1 if nd else np.zeros(0, bool)

        ev = {k: [] for k in ("pos", "seg", "tp", "nfi", "rank")}
        tie = {k: [] for k in ("ev", "tpre", "fpre", "tb", "fb")}
        n_ev = 0
        for a in range(A):
            for t in range(T):
                dm, di = m.dt_match[a, t, order], m.dt_ig[a, t, order]
                tp, fp = dm & ~di, ~dm & ~di
                nfi = inr[a] & ~fp                      # in range, not a false positive
                pos = np.flatnonzero(tp | nfi)
                ev["pos"].append(pos)
                ev["seg"].append((a * T + t) * K + cat[pos])
                ev["tp"].append(tp[pos])
                ev["nfi"].append(nfi[pos])
                ev["rank"].append(m.rank[order][pos])
                tie_tp = np.flatnonzero(tp[pos] & in_tie[pos])
                if len(tie_tp):
                    p = pos[tie_tp]
                    ctp, cfp = np.r_[0, np.cumsum(tp)], np.r_[0, np.cumsum(fp)]
                    bs, be = b_start[bid[p]], b_start[bid[p]] + b_size[bid[p]]
                    tie["ev"].append(n_ev + tie_tp)
                    tie["tpre"].append(ctp[p] - ctp[bs])
                    tie["fpre"].append(cfp[p] - cfp[bs])
                    tie["tb"].append(ctp[be] - ctp[bs])
                    tie["fb"].append(cfp[be] - cfp[bs])
                n_ev += len(pos)
        cat_ev = lambda k: np.concatenate(ev[k]) if ev[k] else np.zeros(0, np.int64)  # noqa: E731
        pos, seg = cat_ev("pos"), cat_ev("seg")
        self.S = A * T * K
        self.ev_img = self.d_img[pos]
        self.ev_tp = cat_ev("tp").astype(np.int64)
        self.ev_nfi = cat_ev("nfi").astype(np.int64)
        self.seg_start, seg_cnt = _segments(seg, self.S)
        self.seg_end = self.seg_start + seg_cnt
        area_of = seg // (T * K)
        cat_of = seg % K
        # true-positive events: where precision is read
        tp_ev = np.flatnonzero(self.ev_tp)
        self.tp_ev = tp_ev
        self.tp_seg = seg[tp_ev]
        self.tp_seg_start = self.seg_start[self.tp_seg]
        a_tp, p_tp = area_of[tp_ev], pos[tp_ev]
        at, ac = np.zeros(len(tp_ev), np.int64), np.zeros(len(tp_ev), np.int64)
        for a in range(A):
            sel = a_tp == a
            at[sel] = self.inr_off[a] + np.searchsorted(in_pos[a], p_tp[sel])
            ac[sel] = self.inr_off[a] + np.searchsorted(in_pos[a], c_start[cat_of[tp_ev][sel]])
        self.tp_inr_at, self.tp_inr_cat = at, ac                          # cumsum indices
        self.tp_ac = a_tp * K + cat_of[tp_ev]
        rank = cat_ev("rank")
        self.tp_rank_lt = {}
        for md in MAX_DETS[:-1]:
            idx = np.flatnonzero(self.ev_tp.astype(bool) & (rank < md))
            self.tp_rank_lt[md] = (idx, np.searchsorted(seg[idx], np.arange(self.S + 1)))
        # ties: per true-positive event in a tie run, its place in the run
        ev_to_tp = np.full(len(pos), -1, np.int64)
        ev_to_tp[tp_ev] = np.arange(len(tp_ev))
        cat_tie = lambda k: np.concatenate(tie[k]) if tie[k] else np.zeros(0, np.int64)  # noqa: E731
        self.tie_pt = ev_to_tp[cat_tie("ev")]
        self.tie_tpre, self.tie_fpre = cat_tie("tpre"), cat_tie("fpre")
        self.tie_tb, self.tie_fb = cat_tie("tb"), cat_tie("fb")
        # ground truth counted by npig, per (area, category)
        self.g_keep = [np.flatnonzero(~m.g_ig[a]) for a in range(A)]
        self.g_img, self.g_cat = m.g_img, m.g_cat
        self.ev_img = self.ev_img.astype(np.intp)
        self.ev_tp, self.ev_nfi = self.ev_tp.astype(np.int32), self.ev_nfi.astype(np.int32)
        at_of = self.tp_seg // K
        self.tp_key0 = at_of * _R * K + self.tp_seg % K

    # ------------------------------------------------------------------ one resample
    def _npig(self, w):
        return np.stack([np.bincount(self.g_cat[k], weights=w[self.g_img[k]], minlength=self.K)
                         for k in self.g_keep]).round().astype(np.int64)       # [A, K]

    @staticmethod
    def _buckets(n, npig_at):
        """Largest r with recall n / npig >= REC_THRS[r] (as COCOeval compares), exactly.

        ``x = 100 n / npig`` in floats: exact where it is an integer (a quotient of exact
        integers, correctly rounded), else at least 1 / npig away from one, so its floor
        is the integer floor. At equality the float recall is r / 100 exactly, and the
        static ``_EQ_OK[r]`` says how it compares with np.linspace's REC_THRS[r] (they
        differ by an ulp at a few r).
        """
        x = (100.0 * n) / np.maximum(npig_at, 1)
        q = np.floor(x)
        qi = np.minimum(q.astype(np.int64), _R - 1)
        return np.minimum(qi - ((x == q) & ~_EQ_OK[qi]), _R - 1)

    def arrays(self, w: np.ndarray, recall: bool = True):
        """(precision [A, T, R, K] at 100 detections, recall [A, M, T, K]) under weights ``w``.

        Same values as COCOeval.accumulate's ``precision[t, r, k, a, -1]`` and
        ``recall[t, k, a, m]``, other axis order (contiguous for the summary).
        """
        A, T, K = self.A, self.T, self.K
        w = np.asarray(w, np.int32)
        npig = self._npig(w)
        cs = np.zeros(self.inr_off[-1], np.int32)
        for a in range(A):
            np.cumsum(w[self.inr_img[a]], out=cs[self.inr_off[a] + 1:self.inr_off[a + 1]])
        we = w[self.ev_img]
        cs_tp = np.zeros(len(we) + 1, np.int32)
        np.cumsum(we * self.ev_tp, out=cs_tp[1:])
        cs_nfi = np.zeros(len(we) + 1, np.int32)
        np.cumsum(we * self.ev_nfi, out=cs_nfi[1:])
        tp_ev, ss = self.tp_ev, self.tp_seg_start
        wt = we[tp_ev]
        n_end = cs_tp[tp_ev] - cs_tp[ss] + wt
        f = (cs[self.tp_inr_at] - cs[self.tp_inr_cat]) - (cs_nfi[tp_ev] - cs_nfi[ss])
        nf = n_end.astype(np.float64)
        pr = nf / ((f + nf) + np.spacing(1))
        npig_flat = npig.reshape(-1)
        b = self._buckets(n_end, npig_flat[self.tp_ac])
        # table[a, t, r, k]: the best precision among true positives in recall bucket r, then
        # its suffix maximum over r (COCOeval's precision envelope at the recall thresholds)
        key = self.tp_key0 + b * K
        table = np.zeros(self.S * _R)
        ekey = None
        if len(self.tie_pt):
            k = wt[self.tie_pt]
            sel = k >= 2
            if sel.any():
                ekey, epr = self._tie_events(sel, k.astype(np.int64), n_end.astype(np.int64),
                                             f.astype(np.int64), npig_flat)
                pr[self.tie_pt[sel]] = 0.0
        if len(key):
            starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
            table[key[starts]] = np.maximum.reduceat(pr, starts)
        if ekey is not None:
            np.maximum.at(table, ekey, epr)
        table = table.reshape(A, T, _R, K)
        for r in range(_R - 2, -1, -1):
            np.maximum(table[:, :, r], table[:, :, r + 1], out=table[:, :, r])
        none = npig == 0                                                      # [A, K]
        if none.any():
            for a in range(A):
                table[a][..., none[a]] = -1.0
        if not recall:
            return table, None
        safe = np.maximum(npig, 1)
        rec = np.empty((A, len(MAX_DETS), T, K))
        for mi, md in enumerate(MAX_DETS):
            if md == MAX_DETS[-1]:
                tot = cs_tp[self.seg_end] - cs_tp[self.seg_start]
            else:
                sel, bounds = self.tp_rank_lt[md]
                c = np.r_[0, np.cumsum(we[sel], dtype=np.int64)]
                tot = c[bounds[1:]] - c[bounds[:-1]]
            r = tot.reshape(A, T, K).astype(np.float64) / safe[:, None, :]
            rec[:, mi] = np.where(none[:, None, :], -1.0, r)
        return table, rec

    def _tie_events(self, sel, k, n_end, f, npig_flat):
        """Events of tie runs drawn k >= 2 times, copy-major: (table keys, precisions)."""
        pt = self.tie_pt[sel]
        k = k[sel]
        tpre, fpre = self.tie_tpre[sel], self.tie_fpre[sel]
        tb, fb = self.tie_tb[sel], self.tie_fb[sel]
        tp_before = n_end[pt] - k * (tpre + 1)
        fp_before = f[pt] - k * fpre
        rep = np.repeat(np.arange(len(pt)), k)
        c = np.arange(len(rep)) - np.repeat(np.cumsum(k) - k, k)            # copy index
        n = tp_before[rep] + c * tb[rep] + tpre[rep] + 1
        fc = fp_before[rep] + c * fb[rep] + fpre[rep]
        pr = n.astype(np.float64) / ((fc.astype(np.float64) + n) + np.spacing(1))
        b = self._buckets(n, npig_flat[self.tp_ac[pt][rep]])
        return self.tp_key0[pt][rep] + b * self.K, pr

    def stats(self, w: np.ndarray, recall: bool = True) -> np.ndarray:
        """COCOeval.stats[:12] (fractions; -1 where undefined) under image weights ``w``.

        The reductions of COCOeval.summarize: the mean of the defined entries, taken in
        the same order (so the same floating-point sum) as there. ``recall=False`` skips
        the AR entries (NaN), for callers that need AP..APl only.
        """
        p, r = self.arrays(w, recall)
        if r is None:
            r = np.full((self.A, len(MAX_DETS), 1, 1), np.nan)
        t50, t75 = (int(np.flatnonzero(IOU_THRS == x)[0]) for x in (0.5, 0.75))

        def mean(s):
            if np.isnan(s).all():
                return np.nan
            s = s[s > -1]
            return -1.0 if len(s) == 0 else np.mean(s)

        m = len(MAX_DETS) - 1
        return np.array([mean(p[0]), mean(p[0, t50]), mean(p[0, t75]), mean(p[1]), mean(p[2]),
                         mean(p[3]), mean(r[0, 0]), mean(r[0, 1]), mean(r[0, m]), mean(r[1, m]),
                         mean(r[2, m]), mean(r[3, m])], np.float64)


def bootstrap_stats(matchings, resamples: int = 1000, seed: int = 0, progress=None,
                    desc: str = "bootstrap", jobs: int = 1, recall: bool = True) -> np.ndarray:
    """``[len(matchings), resamples, 12]`` COCO stats, all runs on the same resamples (paired).

    ``jobs`` > 1 splits the resamples over that many forked worker processes (each draws
    the same weight sequence from ``seed`` and evaluates every ``jobs``-th resample), so
    the result does not depend on ``jobs``. ``recall=False``: AP..APl only (AR entries NaN).
    """
    from tqdm import tqdm

    evals = [m if isinstance(m, ResampledCOCO) else ResampledCOCO(m) for m in matchings]
    if not evals:
        return np.zeros((0, resamples, 12))
    n_img = evals[0].n_img
    if any(e.n_img != n_img for e in evals):
        raise ValueError("bootstrap_stats: the runs were matched on different image sets.")
    bar = tqdm(total=resamples, desc=desc, disable=None if progress is None else not progress,
               mininterval=0.5)
    out = np.empty((len(evals), resamples, 12))
    jobs = max(1, min(int(jobs), resamples))
    if jobs == 1:
        for b, w in enumerate(resample_weights(n_img, resamples, seed)):
            for j, e in enumerate(evals):
                out[j, b] = e.stats(w, recall)
            bar.update()
    else:
        import multiprocessing as mp

        global _SHARED
        ctx = mp.get_context("fork")        # workers inherit the matched runs, nothing is pickled
        done = ctx.Value("i", 0)
        _SHARED = (evals, n_img, resamples, seed, jobs, done, recall)
        try:
            with ctx.Pool(jobs) as pool:
                async_res = pool.map_async(_worker, range(jobs))
                while not async_res.ready():
                    async_res.wait(0.5)
                    bar.update(done.value - bar.n)
                for k, part in enumerate(async_res.get()):
                    out[:, k::jobs] = part
        finally:
            _SHARED = None
        bar.update(resamples - bar.n)
    bar.close()
    return out


_SHARED = None


def _worker(k: int) -> np.ndarray:
    evals, n_img, resamples, seed, jobs, done, recall = _SHARED
    mine = range(k, resamples, jobs)
    part = np.empty((len(evals), len(mine), 12))
    i = 0
    for b, w in enumerate(resample_weights(n_img, resamples, seed)):
        if b % jobs != k:
            continue
        for j, e in enumerate(evals):
            part[j, i] = e.stats(w, recall)
        i += 1
        with done.get_lock():
            done.value += 1
    return part


def jackknife_groups(n_img: int, groups: int = JACKKNIFE_GROUPS, seed: int = 0) -> np.ndarray:
    """Each image's group (``min(groups, n_img)`` groups of near-equal size, seeded shuffle)."""
    groups = max(1, min(int(groups), n_img))
    return np.random.default_rng(seed).permutation(n_img) * groups // max(n_img, 1)


def jackknife_stats(matchings, groups: int = JACKKNIFE_GROUPS, seed: int = 0,
                    recall: bool = False) -> np.ndarray:
    """``[len(matchings), groups, 12]``: the stats with one group of images left out.

    A grouped (delete-``n / groups``) jackknife: each leave-one-group-out set is one more
    image-weight vector on the same matching, so ``groups`` re-accumulations per run. The
    images' groups come from :func:`jackknife_groups` with ``seed`` (the same for all runs:
    paired). Fewer images than ``groups``: one image per group.
    """
    evals = [m if isinstance(m, ResampledCOCO) else ResampledCOCO(m) for m in matchings]
    if not evals:
        return np.zeros((0, groups, 12))
    n_img = evals[0].n_img
    if any(e.n_img != n_img for e in evals):
        raise ValueError("jackknife_stats: the runs were matched on different image sets.")
    grp = jackknife_groups(n_img, groups, seed)
    n_grp = int(grp.max()) + 1 if n_img else 0
    out = np.empty((len(evals), n_grp, 12))
    for g in range(n_grp):
        w = (grp != g).astype(np.int64)
        for j, e in enumerate(evals):
            out[j, g] = e.stats(w, recall)
    return out


def percentile_interval(samples, level: float = 0.95):
    """Percentile interval of bootstrap ``samples`` (NaN entries, undefined metrics, dropped)."""
    x = np.asarray(samples, np.float64)
    x = x[~np.isnan(x)]
    if not len(x):
        return None
    lo, hi = np.percentile(x, [50 * (1 - level), 50 * (1 + level)])
    return [float(lo), float(hi)]


def bootstrap_interval(samples, estimate=None, level: float = 0.95,
                       kind: str = DEFAULT_INTERVAL, jackknife=None):
    """A ``level`` interval from bootstrap ``samples`` of a statistic whose full-set value is
    ``estimate`` (needed by all kinds but ``percentile``); NaN samples (undefined) are dropped.
    ``jackknife``: the statistic with each group of images left out (:func:`jackknife_stats`),
    needed by the kinds in ``JACKKNIFE_KINDS``; None where it has a NaN (undefined).

    * ``percentile``: the samples' quantiles. It inherits the statistic's bootstrap bias:
      AP's precision envelope makes resampled APs larger than the full set's, so the
      interval sits above the estimate and covers the true value less often than it says.
    * ``basic``: the percentile interval reflected about the estimate, ``[2 x - q_hi,
      2 x - q_lo]``; it corrects that shift.
    * ``bc``: percentile levels ``Phi(2 z0 + z)`` with ``z0 = Phi^-1(p)``, ``p`` the share of
      samples below the estimate (ties count half).
    * ``bca``: levels ``Phi(z0 + (z0 + z) / (1 - a (z0 + z)))``, the acceleration ``a =
      sum(d^3) / (6 sum(d^2)^1.5)``, ``d`` = the jackknife values' mean minus each value.
    * ``bc-normal``: ``x - bias -+ z se``: ``bias`` = the samples' mean minus ``x`` (the
      bootstrap bias estimate), ``se`` = the jackknife standard error ``sqrt((G - 1) / G
      sum(d^2))`` over ``G`` groups.
    """
    if kind not in INTERVAL_KINDS:
        raise ValueError(f"Unknown interval kind {kind!r}; expected one of {INTERVAL_KINDS}.")
    x = np.asarray(samples, np.float64)
    x = x[~np.isnan(x)]
    if not len(x):
        return None
    if kind in JACKKNIFE_KINDS:
        if jackknife is None:
            raise ValueError(f"Interval kind {kind!r} needs the jackknife values "
                             "(jackknife_stats); none were given.")
        jk = np.asarray(jackknife, np.float64)
        if len(jk) < 2 or np.isnan(jk).any():
            return None
        d = jk.mean() - jk
    if kind == "percentile":
        return percentile_interval(x, level)
    if estimate is None or not np.isfinite(estimate):
        return None
    est = float(estimate)
    if kind == "basic":
        lo, hi = np.percentile(x, [50 * (1 - level), 50 * (1 + level)])
        return [float(2 * est - hi), float(2 * est - lo)]
    from statistics import NormalDist

    nd = NormalDist()
    z = nd.inv_cdf(0.5 + level / 2)
    if kind == "bc-normal":
        centre = est - (float(np.mean(x)) - est)
        se = float(np.sqrt((len(d) - 1) / len(d) * np.sum(d * d)))
        return [centre - z * se, centre + z * se]
    below = (np.count_nonzero(x < est) + 0.5 * np.count_nonzero(x == est)) / len(x)
    below = min(max(below, 0.5 / len(x)), 1 - 0.5 / len(x))       # finite z0
    z0 = nd.inv_cdf(below)
    if kind == "bc":
        q = [100 * nd.cdf(2 * z0 - z), 100 * nd.cdf(2 * z0 + z)]
    else:
        ss = float(np.sum(d * d))
        a = float(np.sum(d ** 3)) / (6 * ss ** 1.5) if ss > 0 else 0.0
        q = [100 * nd.cdf(z0 + (z0 + zz) / (1 - a * (z0 + zz))) for zz in (-z, z)]
    lo, hi = np.percentile(x, q)
    return [float(lo), float(hi)]


def paired_difference(a, b, level: float = 0.95, kind: str = "percentile",
                      estimate=None, jackknife_a=None, jackknife_b=None) -> dict:
    """Bootstrap of ``a - b`` (paired resamples): interval and two-sided p-value for no difference.

    ``kind`` / ``estimate`` (the full-set difference): see :func:`bootstrap_interval`;
    ``jackknife_a`` / ``jackknife_b``: the two runs' jackknife values on the same groups.
    p = min(1, 2 (min(#{d <= 0}, #{d >= 0}) + 1) / (B + 1)): the share of resamples on the
    other side of 0, doubled, with the usual +1 so that it is never 0 from a finite B.
    """
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    d = d[~np.isnan(d)]
    if not len(d):
        return {"interval": None, "p_value": None, "significant": None}
    jk = None
    if jackknife_a is not None and jackknife_b is not None:
        jk = np.asarray(jackknife_a, np.float64) - np.asarray(jackknife_b, np.float64)
    ci = bootstrap_interval(d, estimate, level, kind, jk)
    if ci is None:
        return {"interval": None, "p_value": None, "significant": None}
    lo, hi = ci
    p = min(1.0, 2 * (min(int((d <= 0).sum()), int((d >= 0).sum())) + 1) / (len(d) + 1))
    return {"interval": [lo, hi], "p_value": p, "significant": not (lo <= 0 <= hi)}
