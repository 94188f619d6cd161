"""COCOeval, vectorized: the numbers of pycocotools' COCOeval, bit for bit, in seconds.

pycocotools evaluates one (image, category, area range) at a time in Python and
accumulates with a Python loop per curve point; on COCO val2017 with 100
detections per image that takes minutes. This module runs the same algorithm on
arrays:

* ``evaluateImg``: per (image, category) group the top 100 detections by score
  (mergesort, so file order on ties) are matched greedily in score order, for
  all 4 area ranges and 10 IoU thresholds at once, one detection rank at a time
  over padded ``[groups, dets, gts]`` IoU tensors. Each step reproduces the
  reference loop exactly: the best available non-ignored GT with IoU >=
  ``min(t, 1 - 1e-10)`` (on ties the last in annotation order), else the best
  ignored one (crowd regions can be matched again and again), ``dtIgnore`` taken
  from the matched GT, unmatched detections outside the area range ignored, and
  a match to a GT whose id is 0 counting as no match, as in the reference.
* ``accumulate``: per category, area range and max-detections the detections in
  (score, image id, rank) order with the reference's cumulative sums, divisions
  (``tp / (fp + tp + eps)``), precision envelope and recall search; the
  ``precision`` / ``recall`` arrays are bit-identical, and so are the summary
  stats computed from them with the same reductions.

Box IoU is computed with pycocotools' formula in float64 (identical values);
mask IoU calls pycocotools per image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .inputs import GroundTruth, to_rle
from .tide import box_iou, _pow2, _segments

__all__ = ["COCOevalArrays", "Matching", "evaluate", "match", "accumulate"]

IOU_THRS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
REC_THRS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
MAX_DETS = (1, 10, 100)
AREA_RNG = ((0 ** 2, 1e5 ** 2), (0 ** 2, 32 ** 2), (32 ** 2, 96 ** 2), (96 ** 2, 1e5 ** 2))


class COCOevalArrays:
    """What COCOeval.accumulate / summarize leave behind: ``eval`` and ``stats``."""

    def __init__(self, precision, recall, cat_ids):
        self.eval = {"precision": precision, "recall": recall}
        self.cat_ids = cat_ids
        self.stats = _summarize(precision, recall)


def _summarize(precision, recall) -> np.ndarray:
    def one(ap, iou=None, area=0, mdet=2):
        if ap:
            s = precision
            if iou is not None:
                s = s[np.where(iou == IOU_THRS)[0]]
            s = s[:, :, :, area, mdet]
        else:
            s = recall
            if iou is not None:
                s = s[np.where(iou == IOU_THRS)[0]]
            s = s[:, :, area, mdet]
        return -1 if len(s[s > -1]) == 0 else np.mean(s[s > -1])

    return np.array([one(1), one(1, .5), one(1, .75), one(1, area=1), one(1, area=2),
                     one(1, area=3), one(0, mdet=0), one(0, mdet=1), one(0),
                     one(0, area=1), one(0, area=2), one(0, area=3)], np.float64)


def evaluate(gt: GroundTruth, detections: list, iou_type: str = "bbox",
             progress: bool | None = None) -> COCOevalArrays:
    """COCOeval(gt, loadRes(detections), iou_type).evaluate/accumulate/summarize, vectorized.

    For ``segm`` the detection area is the mask area (no 'bbox' in the results,
    as detectron2 evaluates masks).
    """
    return accumulate(match(gt, detections, iou_type, progress))


@dataclass
class Matching:
    """COCOeval.evaluate's per-detection outcome, for all areas and IoU thresholds at once.

    Detections are the kept ones (top 100 per (image, category)); images and
    categories are positions in sorted id order. ``dt_match[a, t, d]``: matched to a
    GT (id != 0); ``dt_ig``: COCOeval's dtIgnore. Re-accumulating these under other
    image weights is what the bootstrap (:mod:`.bootstrap`) does.
    """
    cat_ids: list
    n_img: int
    g_img: np.ndarray          # [ng]
    g_cat: np.ndarray          # [ng]
    g_ig: np.ndarray           # [A, ng] gtIgnore per area range
    d_img: np.ndarray          # [nd]
    d_cat: np.ndarray
    d_score: np.ndarray
    rank: np.ndarray           # rank within its (image, category), by score, stable
    dt_match: np.ndarray       # [A, T, nd] bool
    dt_ig: np.ndarray          # [A, T, nd] bool
    d_area_out: np.ndarray     # [A, nd] detection area outside the range


def match(gt: GroundTruth, detections: list, iou_type: str = "bbox",
          progress: bool | None = None) -> Matching:
    """COCOeval.evaluate (evaluateImg for every image, category and area range), vectorized."""
    disable = None if progress is None else not progress
    mask = iou_type == "segm"
    cat_ids = sorted(gt.categories)
    cat_pos = {c: k for k, c in enumerate(cat_ids)}
    img_sorted = sorted(gt.image_ids)
    img_pos = {i: k for k, i in enumerate(img_sorted)}
    n_img, n_cat = len(img_sorted), len(cat_ids)
    lo = np.array([a[0] for a in AREA_RNG], np.float64)
    hi = np.array([a[1] for a in AREA_RNG], np.float64)

    # ---- ground truth, by (image, category, annotation order)
    anns = gt.annotations
    ng = len(anns)
    g_img = np.fromiter((img_pos[a["image_id"]] for a in anns), np.int64, ng)
    g_cat = np.fromiter((cat_pos[a["category_id"]] for a in anns), np.int64, ng)
    g_order = np.lexsort((np.arange(ng), g_cat, g_img))
    g_img, g_cat = g_img[g_order], g_cat[g_order]
    g_crowd = np.fromiter((anns[i]["iscrowd"] for i in g_order), bool, ng)
    g_area = np.fromiter((anns[i]["area"] for i in g_order), np.float64, ng)
    g_id = np.fromiter((anns[i]["id"] for i in g_order), np.int64, ng)
    g_ig = g_crowd[None] | (g_area[None] < lo[:, None]) | (g_area[None] > hi[:, None])  # [A, ng]

    # ---- detections: per (image, category) the top 100 by score, stable
    nd = len(detections)
    d_img = np.fromiter((img_pos[d["image_id"]] for d in detections), np.int64, nd)
    d_cat = np.fromiter((cat_pos[d["category_id"]] for d in detections), np.int64, nd)
    d_score = np.fromiter((d["score"] for d in detections), np.float64, nd)
    d_order = np.lexsort((np.arange(nd), -d_score, d_cat, d_img))
    d_img, d_cat, d_score = d_img[d_order], d_cat[d_order], d_score[d_order]
    grp_d = d_img * n_cat + d_cat
    starts = np.flatnonzero(np.r_[True, grp_d[1:] != grp_d[:-1]]) if nd else np.zeros(0, int)
    rank = np.arange(nd) - np.repeat(starts, np.diff(np.r_[starts, nd]))
    keep = rank < MAX_DETS[-1]
    d_order, d_img, d_cat, d_score, rank = (x[keep] for x in (d_order, d_img, d_cat, d_score, rank))
    grp_d = grp_d[keep]
    nd = len(d_order)
    if mask:
        d_geom = [to_rle(detections[j]["segmentation"], int(gt.heights[gt.image_index[img_sorted[i]]]),
                         int(gt.widths[gt.image_index[img_sorted[i]]])) for j, i in zip(d_order, d_img)]
        from pycocotools import mask as mask_utils
        # one RLE at a time, as loadRes does (area() of a list overflows past 255 items
        # in pycocotools 2.0.x)
        d_area = np.fromiter((mask_utils.area(r) for r in d_geom), np.float64, nd)
        g_rles = gt.rles()
        g_geom = [g_rles[i] for i in g_order]
    else:
        d_geom = np.asarray([detections[j]["bbox"] for j in d_order], np.float64).reshape(-1, 4)
        d_area = d_geom[:, 2] * d_geom[:, 3]
        g_geom = np.asarray([anns[i]["bbox"] for i in g_order], np.float64).reshape(-1, 4)
    d_area_out = (d_area[None] < lo[:, None]) | (d_area[None] > hi[:, None])  # [A, nd]

    # ---- groups with both detections and GT: padded tensors, greedy matching
    dt_match, dt_ig = match_groups(d_img, d_cat, d_geom, g_img, g_cat, g_geom, g_crowd, g_ig,
                                   g_id, n_img, n_cat, iou_type, disable)
    dt_ig |= ~dt_match & d_area_out[:, None, :]
    return Matching(cat_ids=cat_ids, n_img=n_img, g_img=g_img, g_cat=g_cat, g_ig=g_ig,
                    d_img=d_img, d_cat=d_cat, d_score=d_score, rank=rank, dt_match=dt_match,
                    dt_ig=dt_ig, d_area_out=d_area_out)


def match_groups(d_img, d_cat, d_geom, g_img, g_cat, g_geom, g_crowd, g_ig, g_id, n_img, n_cat,
                 iou_type, disable=None):
    """The greedy matching of every (image, category) group, for all areas and IoU thresholds.

    Detections sorted by (image, category, score desc), GT by (image, category,
    annotation order); ``d_geom`` / ``g_geom`` are xywh arrays (``bbox``) or RLE lists
    (``segm``). Returns ``dt_match`` (matched to a GT whose id != 0) and ``dt_ig``
    (dtIgnore taken from the matched GT), both ``[A, T, nd]``. Shared by COCO and
    LVIS (:mod:`.lvis_eval`), whose per-group matching is the same loop.
    """
    from tqdm import tqdm

    mask = iou_type == "segm"
    A, T = g_ig.shape[0], len(IOU_THRS)
    nd = len(d_img)
    grp_d = d_img * n_cat + d_cat
    grp_g = g_img * n_cat + g_cat
    n_grp = n_img * n_cat
    gd_start, gd_cnt = _segments(grp_d, n_grp)
    gg_start, gg_cnt = _segments(grp_g, n_grp)
    dt_match = np.zeros((A, T, nd), bool)      # dtm != 0
    dt_ig = np.zeros((A, T, nd), bool)
    if mask:
        img_iou = _mask_ious_per_image(d_img, d_geom, g_img, g_geom, g_crowd, n_img, disable)
    both = np.flatnonzero((gd_cnt > 0) & (gg_cnt > 0))
    dkey, gkey = _pow2(gd_cnt[both]), _pow2(gg_cnt[both])
    thr = np.minimum(IOU_THRS, 1 - 1e-10)[None, :, None, None]
    keys = sorted(set(zip(dkey.tolist(), gkey.tolist())))
    for dk, gk in tqdm(keys, desc=f"COCO {iou_type} matching", disable=disable, leave=False,
                       mininterval=1.0):
        in_bucket = both[(dkey == dk) & (gkey == gk)]
        # groups of a bucket in chunks: the [A, T, groups, dets] work arrays stay ~<= 256 MB
        # (LVIS puts up to 300 detections in one image and category)
        chunk = max(1, (256 << 20) // (A * T * max(dk, gk) * 8))
        for c0 in range(0, len(in_bucket), chunk):
            grps = in_bucket[c0:c0 + chunk]
            D, G = int(gd_cnt[grps].max()), int(gg_cnt[grps].max())
            dv = np.arange(D)[None] < gd_cnt[grps][:, None]
            gv = np.arange(G)[None] < gg_cnt[grps][:, None]
            di = np.where(dv, gd_start[grps][:, None] + np.arange(D)[None], 0)
            gi = np.where(gv, gg_start[grps][:, None] + np.arange(G)[None], 0)
            crowd = g_crowd[gi] & gv
            if mask:
                ious = img_iou(di, gi)
            else:
                ious = box_iou(d_geom[di][:, :, None, :], g_geom[gi][:, None, :, :],
                               crowd=crowd[:, None, :])
            ious = np.where(dv[:, :, None] & gv[:, None, :], ious, -1.0)
            ig = g_ig[:, gi]                                        # [A, B, G]
            gid = g_id[gi]
            B = len(grps)
            taken = np.zeros((A, T, B, G), bool)
            m_ig = np.zeros((A, T, B, D), bool)
            m_id = np.zeros((A, T, B, D), np.int64)
            m_any = np.zeros((A, T, B, D), bool)
            ig4 = ig[:, None]
            for r in range(D):
                row = ious[None, None, :, r, :]
                q = (~taken | crowd) & (row >= thr)
                cn = q & ~ig4
                use = np.where(cn.any(-1, keepdims=True), cn, q & ig4)
                vals = np.where(use, row, -2.0)
                j = G - 1 - vals[..., ::-1].argmax(-1)              # last of the best
                hit = use.any(-1) & dv[None, None, :, r]
                jj = j[..., None]
                m_any[..., r] = hit
                m_ig[..., r] = hit & np.take_along_axis(np.broadcast_to(ig4, taken.shape), jj, -1)[..., 0]
                m_id[..., r] = np.where(hit, np.take_along_axis(
                    np.broadcast_to(gid, taken.shape), jj, -1)[..., 0], 0)
                np.put_along_axis(taken, jj, np.take_along_axis(taken, jj, -1) | hit[..., None], -1)
            sel = dv
            idx = di[sel]
            dt_match[:, :, idx] = (m_id != 0)[:, :, sel]
            dt_ig[:, :, idx] = m_ig[:, :, sel]
    return dt_match, dt_ig


def accumulate(m: Matching) -> COCOevalArrays:
    """COCOeval.accumulate + summarize on a :class:`Matching`."""
    A, T, M = len(AREA_RNG), len(IOU_THRS), len(MAX_DETS)
    n_cat = len(m.cat_ids)
    g_cat, g_ig, d_img, d_cat, d_score, rank = m.g_cat, m.g_ig, m.d_img, m.d_cat, m.d_score, m.rank
    dt_match, dt_ig = m.dt_match, m.dt_ig
    precision = -np.ones((T, len(REC_THRS), n_cat, A, M))
    recall = -np.ones((T, n_cat, A, M))
    npig_all = np.zeros((A, n_cat), np.int64)
    for a in range(A):
        npig_all[a] = np.bincount(g_cat[~g_ig[a]], minlength=n_cat)
    acc_order = np.lexsort((rank, d_img, -d_score, d_cat))
    c_start, c_cnt = _segments(d_cat[acc_order], n_cat)
    eps = np.spacing(1)
    for k in range(n_cat):
        rows = acc_order[c_start[k]:c_start[k] + c_cnt[k]]
        for mi, mdet in enumerate(MAX_DETS):
            rk = rows[rank[rows] < mdet]
            n = len(rk)
            for a in range(A):
                npig = npig_all[a, k]
                if npig == 0:
                    continue
                dm, di_ = dt_match[a][:, rk], dt_ig[a][:, rk]
                tps = dm & ~di_
                fps = ~dm & ~di_
                tp_sum = np.cumsum(tps, axis=1).astype(dtype=float)
                fp_sum = np.cumsum(fps, axis=1).astype(dtype=float)
                rc = tp_sum / npig
                pr = tp_sum / (fp_sum + tp_sum + eps)
                recall[:, k, a, mi] = rc[:, -1] if n else 0
                pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
                for t in range(T):
                    inds = np.searchsorted(rc[t], REC_THRS, side="left")
                    ok = inds < n
                    q = np.zeros(len(REC_THRS))
                    q[ok] = pr[t, inds[ok]]
                    precision[t, :, k, a, mi] = q
    return COCOevalArrays(precision, recall, m.cat_ids)


def _mask_ious_per_image(d_img, d_geom, g_img, g_geom, g_crowd, n_img, disable):
    """Per-image pycocotools mask IoU, stored flat; returns a gather function."""
    from pycocotools import mask as mask_utils
    from tqdm import tqdm

    ds, dc = _segments(d_img, n_img)
    gs, gc = _segments(g_img, n_img)
    off = np.zeros(n_img + 1, np.int64)
    off[1:] = np.cumsum(dc * gc)
    flat = np.zeros(int(off[-1]))
    for i in tqdm(np.flatnonzero((dc > 0) & (gc > 0)), desc="mask IoU", disable=disable,
                  leave=False, mininterval=1.0):
        iou = mask_utils.iou(d_geom[ds[i]:ds[i] + dc[i]], g_geom[gs[i]:gs[i] + gc[i]],
                             g_crowd[gs[i]:gs[i] + gc[i]].astype(np.uint8).tolist())
        flat[off[i]:off[i + 1]] = np.asarray(iou, np.float64).reshape(-1)

    def gather(di, gi):
        img = d_img[di][:, :, None]
        dl = di[:, :, None] - ds[img]
        gl = gi[:, None, :] - gs[img]
        idx = off[img] + dl * gc[img] + gl
        return flat[np.clip(idx, 0, max(len(flat) - 1, 0))] if len(flat) else np.zeros(idx.shape)

    return gather
