"""LVIS v1 federated AP, vectorized: the numbers of lvis-api's LVISEval (``lvis==0.5.3``).

LVIS is annotated federatedly: per image only some categories are known to be
present (they have annotations) or absent (``neg_category_ids``); for the
others the image says nothing. LVISEval therefore differs from COCOeval in
what it counts, not in how it matches:

* detections: per image at most 300, the highest scores (stable: file order
  on ties), before anything else (``LVISResults.limit_dets_per_image``);
* a detection counts only in an image where its category has annotations or is
  in ``neg_category_ids``; elsewhere it is dropped;
* an unmatched detection whose category is in the image's
  ``not_exhaustive_category_ids`` is ignored (not a false positive);
* annotations and detections of area 0 are dropped (``get_ann_ids`` keeps
  ``0 < area < inf``); there are no crowd regions (``iscrowd`` is not read),
  an annotation's ``ignore`` flag ignores it;
* the detection area that decides small / medium / large is its box area
  ``w * h`` when the results carry boxes (as ``LVISResults`` does, also for
  ``segm``: detectron2's LVISEvaluator drops the boxes before mask evaluation,
  and so does :func:`lvis_metrics`), the mask area otherwise;
* no per-category cap and one ``maxDets`` (300); AP, AP50, AP75, APs/m/l over
  all categories, APr/APc/APf over the categories of each frequency group
  (``categories[i]["frequency"]``: r, c, f), AR@300 and ARs/m/l@300.

The greedy matching of each (image, category) group is COCOeval's, shared with
:mod:`.coco_fast` (:func:`.coco_fast.match_groups`); the accumulation is the
same cumulative sums and envelope on the ``[T, R, K, A]`` precision array.
``precision`` / ``recall`` and every summary value equal lvis-api's bit for bit
(tests/test_lvis_eval.py).
"""
from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .bootstrap import ResampledCOCO
from .coco_fast import AREA_RNG, IOU_THRS, REC_THRS, match_groups
from .inputs import GroundTruth, GroundTruthError, ResultsError, to_rle
from .tide import _segments

__all__ = ["MAX_DETS_PER_IMAGE", "FREQUENCIES", "METRIC_NAMES", "LVISMatching", "LVISevalArrays",
           "is_lvis", "check_lvis", "match", "accumulate", "evaluate", "lvis_metrics",
           "federated_from_coco", "random_coco", "federated_detections", "evaluator_type_of", "build_evaluator",
           "FastLVISEvaluator", "ResampledLVIS", "resampled"]

MAX_DETS_PER_IMAGE = 300
FREQUENCIES = ("r", "c", "f")
AREA_LABELS = ("all", "small", "medium", "large")
METRIC_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf",
                "AR@300", "ARs@300", "ARm@300", "ARl@300")


def is_lvis(gt: GroundTruth | dict) -> bool:
    """Whether a ground truth is in LVIS format (category frequencies, federated image lists)."""
    data = gt.dataset if isinstance(gt, GroundTruth) else gt
    cats, imgs = data.get("categories") or [], data.get("images") or []
    return bool(cats) and bool(imgs) and all("frequency" in c for c in cats) \
        and all("neg_category_ids" in im and "not_exhaustive_category_ids" in im for im in imgs)


def check_lvis(gt: GroundTruth) -> None:
    """Raise naming the first entry that LVIS evaluation cannot read."""
    for c in gt.dataset["categories"]:
        if c.get("frequency") not in FREQUENCIES:
            raise GroundTruthError(
                f"Ground-truth file {gt.path!r}: category {c.get('id')!r} "
                f"({c.get('name')!r}) has frequency {c.get('frequency')!r}; LVIS evaluation "
                f"groups categories by 'frequency', one of {FREQUENCIES} (rare / common / "
                "frequent, from the number of training images holding the category).")
    for im in gt.dataset["images"]:
        for key in ("neg_category_ids", "not_exhaustive_category_ids"):
            if not isinstance(im.get(key), list):
                raise GroundTruthError(
                    f"Ground-truth file {gt.path!r}: image {im.get('id')!r} has no list under "
                    f"{key!r}; an LVIS v1 file lists per image the categories verified absent "
                    "(neg_category_ids) and those not exhaustively annotated "
                    "(not_exhaustive_category_ids). Is this a COCO file? Evaluate it with "
                    "COCO metrics instead.")


@dataclass
class LVISMatching:
    """LVISEval.evaluate's per-detection outcome (the kept, counted detections).

    Images and categories are positions in sorted id order; detections are sorted
    by (image, category, score desc, file order); ``rank`` is the position within
    its (image, category) group. The bootstrap re-accumulates this under image
    weights as it does a COCO :class:`.coco_fast.Matching`.
    """
    cat_ids: list
    frequency: np.ndarray      # [K] index into FREQUENCIES
    n_img: int
    g_img: np.ndarray          # [ng]
    g_cat: np.ndarray
    g_ig: np.ndarray           # [A, ng]
    d_img: np.ndarray          # [nd]
    d_cat: np.ndarray
    d_score: np.ndarray
    rank: np.ndarray
    dt_match: np.ndarray       # [A, T, nd]
    dt_ig: np.ndarray          # [A, T, nd]
    d_area_out: np.ndarray     # [A, nd] detection area outside the range


class LVISevalArrays:
    """What LVISEval.accumulate / summarize leave: ``eval`` and ``results`` (and ``stats``)."""

    def __init__(self, precision, recall, cat_ids, frequency):
        self.eval = {"precision": precision, "recall": recall}
        self.cat_ids = cat_ids
        self.frequency = frequency
        self.freq_groups = [list(np.flatnonzero(frequency == k)) for k in range(len(FREQUENCIES))]
        self.results = _summarize(precision, recall, self.freq_groups)
        self.stats = np.array([self.results[k] for k in METRIC_NAMES], np.float64)


def _summarize(precision, recall, freq_groups) -> OrderedDict:
    # LVISEval._summarize: the same slicing, hence the same order of summation
    def one(ap, iou=None, area="all", freq=None):
        aidx = [AREA_LABELS.index(area)]
        if ap:
            s = precision
            if iou is not None:
                s = s[np.where(iou == IOU_THRS)[0]]
            s = s[:, :, freq_groups[freq], aidx] if freq is not None else s[:, :, :, aidx]
        else:
            s = recall
            if iou is not None:
                s = s[np.where(iou == IOU_THRS)[0]]
            s = s[:, :, aidx]
        return -1 if len(s[s > -1]) == 0 else np.mean(s[s > -1])

    out = OrderedDict()
    out["AP"], out["AP50"], out["AP75"] = one(1), one(1, iou=.5), one(1, iou=.75)
    out["APs"], out["APm"], out["APl"] = one(1, area="small"), one(1, area="medium"), \
        one(1, area="large")
    out["APr"], out["APc"], out["APf"] = one(1, freq=0), one(1, freq=1), one(1, freq=2)
    out["AR@300"] = one(0)
    out["ARs@300"], out["ARm@300"], out["ARl@300"] = one(0, area="small"), \
        one(0, area="medium"), one(0, area="large")
    return out


def evaluate(gt: GroundTruth, detections: list, iou_type: str = "bbox",
             max_dets: int = MAX_DETS_PER_IMAGE, progress: bool | None = None) -> LVISevalArrays:
    """LVISEval(gt, LVISResults(gt, detections), iou_type).run(), vectorized."""
    return accumulate(match(gt, detections, iou_type, max_dets, progress))


def _keys(img_pos, cat_pos, n_cat, per_image: dict) -> np.ndarray:
    """Sorted ``image * n_cat + category`` keys of per-image category lists."""
    out = [img_pos[i] * n_cat + cat_pos[c] for i, cats in per_image.items()
           for c in cats if c in cat_pos]
    return np.unique(np.asarray(out, np.int64))


def match(gt: GroundTruth, detections: list, iou_type: str = "bbox",
          max_dets: int = MAX_DETS_PER_IMAGE, progress: bool | None = None) -> LVISMatching:
    """LVISResults + LVISEval.evaluate (every image, category and area range), vectorized.

    ``detections`` is the results list as in the file: the per-image limit counts
    every entry, also those of categories the ground truth does not have (dropped
    after it, as lvis-api does).
    """
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    check_lvis(gt)
    disable = None if progress is None else not progress
    mask = iou_type == "segm"
    cat_ids = sorted(gt.categories)
    cat_pos = {c: k for k, c in enumerate(cat_ids)}
    img_sorted = sorted(gt.image_ids)
    img_pos = {i: k for k, i in enumerate(img_sorted)}
    n_img, n_cat = len(img_sorted), len(cat_ids)
    lo = np.array([a[0] for a in AREA_RNG], np.float64)
    hi = np.array([a[1] for a in AREA_RNG], np.float64)
    freq_of = {c["id"]: FREQUENCIES.index(c["frequency"]) for c in gt.dataset["categories"]}
    frequency = np.array([freq_of[c] for c in cat_ids], np.int64)

    # ---- ground truth: 0 < area < inf, by (image, category, annotation order)
    anns = [a for a in gt.annotations if 0 < a["area"] < float("inf")]
    ann_index = [k for k, a in enumerate(gt.annotations) if 0 < a["area"] < float("inf")]
    ng = len(anns)
    g_img = np.fromiter((img_pos[a["image_id"]] for a in anns), np.int64, ng)
    g_cat = np.fromiter((cat_pos[a["category_id"]] for a in anns), np.int64, ng)
    g_order = np.lexsort((np.arange(ng), g_cat, g_img))
    g_img, g_cat = g_img[g_order], g_cat[g_order]
    g_ignore = np.fromiter((bool(anns[i].get("ignore", 0)) for i in g_order), bool, ng)
    g_area = np.fromiter((anns[i]["area"] for i in g_order), np.float64, ng)
    g_id = np.fromiter((anns[i]["id"] for i in g_order), np.int64, ng)
    g_ig = g_ignore[None] | (g_area[None] < lo[:, None]) | (g_area[None] > hi[:, None])
    g_crowd = np.zeros(ng, bool)       # LVIS has no crowd regions

    # ---- detections: per image the top max_dets by score (file order on ties)
    nd = len(detections)
    if nd == 0:
        raise ResultsError("LVIS evaluation got an empty results list (LVISResults cannot "
                           "read one either).")
    try:
        d_img = np.fromiter((img_pos[d["image_id"]] for d in detections), np.int64, nd)
    except KeyError as e:
        raise ResultsError(f"A detection names image_id {e.args[0]!r}, which is not in the "
                           f"ground truth {gt.path!r} (lvis-api refuses such results).") from None
    d_score = np.fromiter((d["score"] for d in detections), np.float64, nd)
    order = np.lexsort((np.arange(nd), -d_score, d_img))
    starts = np.flatnonzero(np.r_[True, d_img[order][1:] != d_img[order][:-1]])
    in_img = np.arange(nd) - np.repeat(starts, np.diff(np.r_[starts, nd]))
    kept = np.sort(order[in_img < max_dets]) if max_dets >= 0 else np.arange(nd)
    # LVISResults decides box or mask area from its first (limited) entry: the first
    # entry of the file's first image, or that image's best one when it was cut
    first_img = d_img[0]
    first = 0 if np.count_nonzero(d_img == first_img) <= max_dets or max_dets < 0 else \
        order[starts[np.searchsorted(d_img[order][starts], first_img)]]
    box_area = "bbox" in detections[first]

    # categories known to the ground truth, then geometry and area
    d_cat_id = [detections[j]["category_id"] for j in kept]
    known = np.fromiter((c in cat_pos for c in d_cat_id), bool, len(kept))
    kept = kept[known]
    d_cat = np.fromiter((cat_pos[c] for c, k in zip(d_cat_id, known) if k), np.int64, len(kept))
    d_img, d_score = d_img[kept], d_score[kept]
    hw = lambda i: (int(gt.heights[gt.image_index[img_sorted[i]]]),  # noqa: E731
                    int(gt.widths[gt.image_index[img_sorted[i]]]))
    from pycocotools import mask as mask_utils

    rles = None
    if mask or not box_area:
        rles = []
        for j, i in zip(kept, d_img):
            if "segmentation" not in detections[j]:
                raise ResultsError(f"Detection {int(j)} (image_id {detections[j]['image_id']!r}) "
                                   "has no 'segmentation'; mask evaluation needs one per "
                                   "detection.")
            rles.append(to_rle(detections[j]["segmentation"], *hw(i)))
    if box_area:
        try:
            boxes = np.asarray([detections[j]["bbox"] for j in kept], np.float64).reshape(-1, 4)
        except KeyError:
            raise ResultsError("The results' first entry has a 'bbox' but later ones do not; "
                               "LVIS evaluation takes detection areas from every box then.") \
                from None
        d_area = boxes[:, 2] * boxes[:, 3]
    else:
        d_area = np.fromiter((mask_utils.area(r) for r in rles), np.float64, len(kept))
        boxes = np.asarray([mask_utils.toBbox(r) for r in rles], np.float64).reshape(-1, 4)

    # federated: the image's annotated categories or its negatives; area in (0, inf)
    pos_keys = np.unique(g_img * n_cat + g_cat)
    neg = {im["id"]: im["neg_category_ids"] for im in gt.dataset["images"]}
    nel = {im["id"]: im["not_exhaustive_category_ids"] for im in gt.dataset["images"]}
    neg_keys = _keys(img_pos, cat_pos, n_cat, neg)
    nel_keys = _keys(img_pos, cat_pos, n_cat, nel)
    key = d_img * n_cat + d_cat
    use = (np.isin(key, pos_keys) | np.isin(key, neg_keys)) & (d_area > 0) & (d_area < np.inf)
    kept, d_img, d_cat, d_score, d_area, boxes, key = (
        x[use] for x in (kept, d_img, d_cat, d_score, d_area, boxes, key))
    if rles is not None:
        rles = [r for r, u in zip(rles, use) if u]

    # ---- groups: (image, category, score desc, file order), COCOeval's matching
    srt = np.lexsort((kept, -d_score, d_cat, d_img))
    kept, d_img, d_cat, d_score, d_area, boxes, key = (
        x[srt] for x in (kept, d_img, d_cat, d_score, d_area, boxes, key))
    nd = len(kept)
    grp = d_img * n_cat + d_cat
    gstart = np.flatnonzero(np.r_[True, grp[1:] != grp[:-1]]) if nd else np.zeros(0, int)
    rank = np.arange(nd) - np.repeat(gstart, np.diff(np.r_[gstart, nd]))
    if mask:
        d_geom = [rles[k] for k in srt]
        g_rles = gt.rles()
        g_geom = [g_rles[ann_index[i]] for i in g_order]
    else:
        d_geom = boxes
        g_geom = np.asarray([anns[i]["bbox"] for i in g_order], np.float64).reshape(-1, 4)
    dt_match, dt_ig = match_groups(d_img, d_cat, d_geom, g_img, g_cat, g_geom, g_crowd, g_ig,
                                   g_id, n_img, n_cat, iou_type, disable)
    # unmatched: ignored outside the area range or where the category is not exhaustive
    d_area_out = (d_area[None] < lo[:, None]) | (d_area[None] > hi[:, None])
    not_exhaustive = np.isin(key, nel_keys)
    dt_ig |= ~dt_match & (d_area_out | not_exhaustive[None])[:, None, :]
    return LVISMatching(cat_ids=cat_ids, frequency=frequency, n_img=n_img, g_img=g_img,
                        g_cat=g_cat, g_ig=g_ig, d_img=d_img, d_cat=d_cat, d_score=d_score,
                        rank=rank, dt_match=dt_match, dt_ig=dt_ig, d_area_out=d_area_out)


def accumulate(m: LVISMatching) -> LVISevalArrays:
    """LVISEval.accumulate + summarize on an :class:`LVISMatching`."""
    A, T, R = len(AREA_RNG), len(IOU_THRS), len(REC_THRS)
    n_cat = len(m.cat_ids)
    g_cat, g_ig, d_img, d_cat, d_score, rank = m.g_cat, m.g_ig, m.d_img, m.d_cat, m.d_score, m.rank
    dt_match, dt_ig = m.dt_match, m.dt_ig
    precision = -np.ones((T, R, n_cat, A))
    recall = -np.ones((T, n_cat, A))
    npig_all = np.zeros((A, n_cat), np.int64)
    for a in range(A):
        npig_all[a] = np.bincount(g_cat[~g_ig[a]], minlength=n_cat)
    acc_order = np.lexsort((rank, d_img, -d_score, d_cat))
    c_start, c_cnt = _segments(d_cat[acc_order], n_cat)
    eps = np.spacing(1)
    for k in range(n_cat):
        rows = acc_order[c_start[k]:c_start[k] + c_cnt[k]]
        n = len(rows)
        for a in range(A):
            npig = npig_all[a, k]
            if npig == 0:
                continue
            dm, di_ = dt_match[a][:, rows], dt_ig[a][:, rows]
            tp_sum = np.cumsum(dm & ~di_, axis=1).astype(dtype=float)
            fp_sum = np.cumsum(~dm & ~di_, axis=1).astype(dtype=float)
            rc = tp_sum / npig
            pr = tp_sum / (fp_sum + tp_sum + eps)
            recall[:, k, a] = rc[:, -1] if n else 0
            pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
            for t in range(T):
                inds = np.searchsorted(rc[t], REC_THRS, side="left")
                ok = inds < n
                q = np.zeros(R)
                q[ok] = pr[t, inds[ok]]
                precision[t, :, k, a] = q
    return LVISevalArrays(precision, recall, m.cat_ids, m.frequency)


class ResampledLVIS(ResampledCOCO):
    """LVIS federated AP of one run under image weights (the paired bootstrap).

    A resample's numbers are defined as those of lvis-api on the physically duplicated
    dataset: each copy of an image brings its ground truth, its detections and its
    federated lists (positive, negative, not exhaustive), so the lists go with their
    image. The :class:`LVISMatching` already encodes the lists per image (which
    detections count, which false positives are ignored), and LVISEval.accumulate is
    COCOeval's under the same (category, score desc, image) order, so
    :class:`.bootstrap.ResampledCOCO`'s weighted re-accumulation applies unchanged; only
    the summary differs. ``stats`` returns AP, AP50, AP75, APs, APm, APl, APr, APc, APf
    (fractions, -1 where undefined; :data:`METRIC_NAMES` order) and three NaN slots: the
    12 entries :func:`.bootstrap.bootstrap_stats` stores per resample.
    """

    def __init__(self, m: LVISMatching):
        super().__init__(m)
        self.frequency = np.asarray(m.frequency)

    def stats(self, w: np.ndarray, recall: bool = True) -> np.ndarray:
        p, _ = self.arrays(w, recall=False)        # [A, T, R, K]
        t50, t75 = (int(np.flatnonzero(IOU_THRS == x)[0]) for x in (0.5, 0.75))

        def mean(s):
            s = s[s > -1]
            return -1.0 if len(s) == 0 else np.mean(s)

        out = [mean(p[0]), mean(p[0, t50]), mean(p[0, t75]), mean(p[1]), mean(p[2]), mean(p[3])]
        out += [mean(p[0][..., self.frequency == i]) for i in range(len(FREQUENCIES))]
        return np.array(out + [np.nan] * 3, np.float64)


def resampled(gt: GroundTruth, detections: list, iou_type: str = "bbox",
              progress: bool | None = None):
    """:func:`ResampledLVIS` of ``detections`` (segm: boxes dropped first, as
    :func:`lvis_metrics` does, so areas are mask areas)."""
    dets = detections
    if iou_type == "segm":
        dets = [{k: v for k, v in d.items() if k != "bbox"} for d in detections]
    return ResampledLVIS(match(gt, dets, iou_type, progress=progress))


def federated_detections(gt: GroundTruth, detections: list) -> list:
    """The detections LVIS evaluation counts at all: per image those of its annotated or
    negative categories (for analyses that are not federated themselves, e.g. TIDE)."""
    known = {}
    for a in gt.annotations:
        known.setdefault(a["image_id"], set()).add(a["category_id"])
    for im in gt.dataset["images"]:
        known.setdefault(im["id"], set()).update(im.get("neg_category_ids", ()))
    return [d for d in detections if d["category_id"] in known.get(d["image_id"], ())]


def _pct(x):
    x = float(x)
    return None if x < 0 or np.isnan(x) else x * 100


def lvis_metrics(gt: GroundTruth, detections: list, iou_type: str = "bbox",
                 progress: bool | None = None) -> dict:
    """``{"lvis": {AP..ARl@300}, "per_category": {name: AP}, "per_frequency": {r/c/f: {...}}}``.

    AP points; None where LVISEval leaves -1. For ``segm`` the boxes are dropped first
    so that small / medium / large use the mask area, as detectron2's LVISEvaluator does.
    """
    dets = detections
    if iou_type == "segm":
        dets = [{k: v for k, v in d.items() if k != "bbox"} for d in detections]
    ev = evaluate(gt, dets, iou_type, progress=progress)
    per_cat, per_freq = {}, {f: {} for f in FREQUENCIES}
    precision = ev.eval["precision"]
    for k, cid in enumerate(ev.cat_ids):
        p = precision[:, :, k, 0]
        p = p[p > -1]
        name = gt.categories[cid]
        label = name if name not in per_cat else f"{name} ({cid})"
        per_cat[label] = float(np.mean(p)) * 100 if p.size else None
        per_freq[FREQUENCIES[ev.frequency[k]]][label] = per_cat[label]
    return {"lvis": {k: _pct(v) for k, v in ev.results.items()}, "per_category": per_cat,
            "per_frequency": per_freq,
            "num_categories": {f: int(np.count_nonzero(ev.frequency == i))
                               for i, f in enumerate(FREQUENCIES)}}


# --------------------------------------------------------------------------- test data
def federated_from_coco(coco: dict, seed: int = 0, p_neg: float = 0.05,
                        p_not_exhaustive: float = 0.3, p_ignore: float = 0.0) -> dict:
    """An LVIS-format copy of a COCO-format ground truth, for tests and benchmarks.

    Categories get a frequency (r / c / f by terciles of the number of images
    holding them in ``coco``, so that each group has annotated members; categories
    no image holds are rare); each image lists as negatives a ``p_neg`` share of the categories it
    does not hold, and as not exhaustive a ``p_not_exhaustive`` share of those it
    holds; ``p_ignore`` of the annotations get ``ignore: 1``. Crowd flags are kept
    (LVIS evaluation does not read them).
    """
    import copy

    rng = np.random.default_rng(seed)
    out = copy.deepcopy(coco)
    cats = [c["id"] for c in out["categories"]]
    held: dict = {}
    for a in out["annotations"]:
        held.setdefault(a["image_id"], set()).add(a["category_id"])
    n_imgs = {c: 0 for c in cats}
    for s in held.values():
        for c in s:
            n_imgs[c] += 1
    counts = np.array([n_imgs[c] for c in cats])
    lo_t, hi_t = np.quantile(counts[counts > 0], [1 / 3, 2 / 3]) if counts.any() else (0, 0)
    for c, n in zip(out["categories"], counts):
        c["frequency"] = "r" if n <= lo_t else ("c" if n <= hi_t else "f")
        c["image_count"] = int(n)
    for im in out["images"]:
        have = sorted(held.get(im["id"], ()))
        absent = [c for c in cats if c not in held.get(im["id"], ())]
        im["neg_category_ids"] = [int(c) for c in absent if rng.random() < p_neg]
        im["not_exhaustive_category_ids"] = [int(c) for c in have if rng.random() < p_not_exhaustive]
        im["pos_category_ids"] = [int(c) for c in have]
    if p_ignore:
        for a in out["annotations"]:
            if rng.random() < p_ignore:
                a["ignore"] = 1
    return out


def random_coco(num_images: int = 60, num_categories: int = 30, seed: int = 0,
                size: tuple = (480, 640), max_per_image: int = 12) -> dict:
    """A COCO-format ground truth of random boxes (with polygon masks) over many
    categories of Zipf-like frequency, the long tail of LVIS in miniature."""
    rng = np.random.default_rng(seed)
    H, W = size
    cat_p = 1.0 / np.arange(1, num_categories + 1) ** 1.2
    cat_p /= cat_p.sum()
    n_per = rng.integers(1, max_per_image, num_images)
    n = int(n_per.sum())
    img = np.repeat(np.arange(num_images), n_per)
    cat = rng.choice(num_categories, n, p=cat_p) + 1
    wh = rng.uniform(4, min(H, W) * 0.6, (n, 2))
    x = rng.uniform(0, 1, n) * (W - wh[:, 0])
    y = rng.uniform(0, 1, n) * (H - wh[:, 1])
    images = [{"id": 1000 + 3 * i, "height": H, "width": W, "file_name": f"{i:06d}.jpg"}
              for i in range(num_images)]
    anns = []
    for k in range(n):
        bx, by, bw, bh = float(x[k]), float(y[k]), float(wh[k, 0]), float(wh[k, 1])
        anns.append({"id": k + 1, "image_id": 1000 + 3 * int(img[k]), "category_id": int(cat[k]),
                     "bbox": [bx, by, bw, bh], "area": bw * bh * 0.75, "iscrowd": 0,
                     # a box with one corner cut: mask area 3/4 of the box's
                     "segmentation": [[bx, by, bx + bw, by, bx + bw, by + bh, bx, by + bh * 0.5]]})
    return {"images": images, "annotations": anns,
            "categories": [{"id": c + 1, "name": f"cat{c + 1}"} for c in range(num_categories)]}


# --------------------------------------------------------------------------- engine
def evaluator_type_of(dataset_name: str) -> str:
    """``"lvis"`` or ``"coco"``: the metadata's ``evaluator_type`` (LVIS datasets registered
    by :mod:`vitdet_bench.data.lvis` say ``"lvis"``)."""
    from detectron2.data import MetadataCatalog

    kind = MetadataCatalog.get(dataset_name).get("evaluator_type", "coco")
    return "lvis" if kind == "lvis" else "coco"


def build_evaluator(dataset_name: str, output_dir: str | None = None, **kwargs):
    """The detectron2 evaluator that suits a registered dataset.

    LVIS datasets get :class:`FastLVISEvaluator` (detectron2's LVISEvaluator, its
    numbers computed by this module, 300 detections per image); the others
    detectron2's ``COCOEvaluator(use_fast_impl=False)``.
    """
    if evaluator_type_of(dataset_name) == "lvis":
        max_dets = kwargs.get("max_dets_per_image", None)
        if max_dets not in (None, MAX_DETS_PER_IMAGE):
            raise ValueError(
                f"max_dets_per_image={max_dets!r} for the LVIS dataset {dataset_name!r}: LVIS "
                f"AP is defined at {MAX_DETS_PER_IMAGE} detections per image (lvis-api's and "
                "detectron2's LVISEvaluator's convention), the only limit this evaluator "
                f"computes. Set dataloader.evaluator.max_dets_per_image={MAX_DETS_PER_IMAGE} "
                "or leave it unset.")
        return FastLVISEvaluator(dataset_name, output_dir=output_dir, **kwargs)
    from detectron2.evaluation import COCOEvaluator

    return COCOEvaluator(dataset_name, output_dir=output_dir, use_fast_impl=False, **kwargs)


@functools.lru_cache(maxsize=None)
def _fast_lvis_evaluator_class():
    from detectron2.evaluation import LVISEvaluator

    class _FastLVISEvaluator(LVISEvaluator):
        """detectron2's LVISEvaluator whose metrics come from :func:`lvis_metrics` (equal to
        lvis-api's, in seconds at val scale); it writes ``lvis_instances_results.json`` as
        detectron2's does."""

        def __init__(self, dataset_name, tasks=None, distributed=True, output_dir=None, *,
                     max_dets_per_image=None):
            # detectron2's __init__ loads the json with lvis-api only to see whether it has
            # annotations; this evaluator needs no lvis-api (see _eval_predictions)
            import logging

            import torch
            from detectron2.data import MetadataCatalog

            self._logger = logging.getLogger(__name__)
            self._tasks, self._distributed, self._output_dir = tasks, distributed, output_dir
            self._max_dets_per_image = max_dets_per_image
            self._cpu_device = torch.device("cpu")
            self._metadata = MetadataCatalog.get(dataset_name)
            self._do_evaluation = True      # a json without annotations: found when evaluating

        @property
        def _lvis_api(self):
            # only detectron2's proposal evaluation (an RPN-only model) reads it
            from lvis import LVIS

            return LVIS(self._metadata.json_file)

        def _eval_predictions(self, predictions):
            import itertools
            import json
            import os

            results = list(itertools.chain(*[x["instances"] for x in predictions]))
            tasks = self._tasks or self._tasks_from_predictions(results)
            to_id = {v: k for k, v in self._metadata.thing_dataset_id_to_contiguous_id.items()}
            for r in results:
                r["category_id"] = to_id[r["category_id"]]
            if self._output_dir:
                path = os.path.join(self._output_dir, "lvis_instances_results.json")
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(results, f)
            if not results:
                return
            from .inputs import load_ground_truth

            gt = load_ground_truth(self._metadata.json_file, iou_types=tuple(sorted(tasks)))
            if not gt.annotations:      # a test-set json: evaluated by the LVIS server
                self._logger.warning("%s has no annotations: detections written, not evaluated.",
                                     self._metadata.json_file)
                return
            for task in sorted(tasks):
                m = lvis_metrics(gt, results, task)["lvis"]
                self._results[task] = {k: (float("nan") if m[k] is None else m[k])
                                       for k in METRIC_NAMES[:9]}

    return _FastLVISEvaluator


def FastLVISEvaluator(dataset_name: str, output_dir: str | None = None, **kwargs):  # noqa: N802
    """detectron2's LVISEvaluator with this module's metrics (see :func:`build_evaluator`)."""
    return _fast_lvis_evaluator_class()(dataset_name, output_dir=output_dir, **kwargs)
