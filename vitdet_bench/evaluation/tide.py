"""TIDE error-type breakdown (Bolya et al., ECCV 2020), vectorized.

Reproduces the numbers of the reference toolkit (``tidecv`` 1.0.1, identical to
dbolya/tide v1.0.1), quirks included, without its per-detection Python loops:

* per ground-truth image, the top ``max_dets`` (100) detections by score (stable
  on ties) across all classes; detections on images absent from the GT are gone;
* greedy matching: in score order a detection takes the unused same-class GT of
  highest IoU if that IoU >= the foreground threshold. It runs for all images
  at once, one detection rank at a time, on padded ``[images, dets, gts]`` IoU
  tensors bucketed by size;
* an unmatched detection whose crowd IoU (intersection / detection area) with a
  same-class crowd region is strictly above the threshold is ignored for AP, but
  still classified;
* each false positive gets the first error type whose test holds: no non-crowd
  GT in the image -> bkg; best same-class IoU in [bg, fg] -> loc; best
  other-class IoU >= fg -> cls; best IoU with a matched same-class GT >= fg ->
  dup; best IoU with any GT <= bg -> bkg; otherwise both (cls+loc);
* a GT is *missed* when it is unmatched and no cls/loc error pointed at it while
  it was unmatched;
* oracle fixes, each alone against the base AP, ``dAP = max(AP_fixed - AP, 0)``:
  cls/loc make the highest-scoring cls-or-loc detection on an unmatched GT a true
  positive (other detections on that GT, and those on matched GTs, disappear);
  dup/bkg/both remove the detection; miss lowers the class's GT count. Special
  errors (not clipped): ``fp`` scores every TP 1 and every FP 0, ``fn`` sets the
  GT count to the number of TPs;
* TIDE's own AP: 101-point interpolated precision with recall points ``x/100``,
  averaged over every class that has GT or a scored detection (AP 0 without GT).
  Like the reference, the fixed AP lists the (fixed or not) false positives
  before the true positives, which matters only for tied scores.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .inputs import GroundTruth, to_rle

__all__ = ["MAIN_ERRORS", "SPECIAL_ERRORS", "TideResult", "tide_errors", "tide_ap"]

MAIN_ERRORS = ("cls", "loc", "both", "dup", "bkg", "miss")
SPECIAL_ERRORS = ("fp", "fn")
_CLS, _LOC, _BOTH, _DUP, _BKG = 0, 1, 2, 3, 4
_TP = -1


@dataclass
class TideResult:
    iou_threshold: float
    ap: float                 # TIDE's AP at this threshold (not COCO's)
    errors: dict              # main error type -> dAP (AP points)
    special: dict             # fp / fn -> dAP
    counts: dict              # error type -> number of errors (fp/fn: totals)

    def as_dict(self) -> dict:
        return {"iou_threshold": self.iou_threshold, "ap": self.ap, "errors": self.errors,
                "special": self.special, "counts": self.counts}


# --------------------------------------------------------------------------- IoU
def box_iou(d: np.ndarray, g: np.ndarray, crowd: bool = False) -> np.ndarray:
    """IoU of ``[..., 4]`` xywh boxes, broadcast, bit-identical to pycocotools' bbIou."""
    w = np.minimum(d[..., 2] + d[..., 0], g[..., 2] + g[..., 0]) - np.maximum(d[..., 0], g[..., 0])
    h = np.minimum(d[..., 3] + d[..., 1], g[..., 3] + g[..., 1]) - np.maximum(d[..., 1], g[..., 1])
    da = d[..., 2] * d[..., 3]
    inter = w * h
    if isinstance(crowd, (bool, np.bool_)):
        union = da if crowd else da + g[..., 2] * g[..., 3] - inter
    else:  # per-GT crowd flags, broadcast
        union = np.where(crowd, da, da + g[..., 2] * g[..., 3] - inter)
    ok = (w > 0) & (h > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, inter / np.where(ok, union, 1.0), 0.0)


def _segments(keys: np.ndarray, n: int):
    """start offsets and counts of sorted integer ``keys`` in ``range(n)``."""
    counts = np.bincount(keys, minlength=n)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return starts, counts


def _pow2(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 1, 1, 2 ** np.ceil(np.log2(np.maximum(x, 1))).astype(np.int64))


# --------------------------------------------------------------------------- AP
def tide_ap(cls, score, tp, n_gt, order_keys=()) -> tuple[float, dict]:
    """TIDE's mAP over classes with GT or points; returns (mAP, {class: AP}).

    ``order_keys``: extra sort keys (most significant first) breaking score ties.
    """
    cls = np.asarray(cls, np.int64)
    score = np.asarray(score, np.float64)
    tp = np.asarray(tp, bool)
    keys = [k for k in reversed(order_keys)] + [-score, cls]
    order = np.lexsort(keys) if len(cls) else np.zeros(0, np.int64)
    cls, tp = cls[order], tp[order]
    n_cls = len(n_gt)
    starts, counts = _segments(cls, n_cls)
    x = np.arange(101) / 100
    aps = {}
    for c in range(n_cls):
        n, g = int(counts[c]), int(n_gt[c])
        if n == 0 and g == 0:
            continue  # empty class: not part of the mean
        if g == 0:
            aps[c] = 0.0
            continue
        t = tp[starts[c]:starts[c] + n]
        ntp = np.cumsum(t)
        prec = ntp / np.arange(1, n + 1)
        rec = ntp / g
        prec = np.maximum.accumulate(prec[::-1])[::-1]
        idx = np.searchsorted(rec, x, side="left")
        y = np.where(idx < n, prec[np.minimum(idx, max(n - 1, 0))] if n else 0.0, 0.0)
        aps[c] = sum(y.tolist()) / 101 * 100
    if not aps:
        return 0.0, aps
    return sum(aps.values()) / len(aps), aps


# --------------------------------------------------------------------------- main entry
def tide_errors(gt: GroundTruth, detections: list, iou_type: str = "bbox",
                thresholds=(0.5,), bg_thresh: float = 0.1, max_dets: int = 100,
                progress: bool | None = None) -> dict[float, TideResult]:
    """TIDE error breakdown at each foreground IoU threshold (background IoU ``bg_thresh``)."""
    prep = _Prepared(gt, detections, iou_type, max_dets, progress)
    return {float(t): prep.run(float(t), bg_thresh) for t in thresholds}


class _Prepared:
    """Everything that does not depend on the IoU threshold: sorting, IoU tensors."""

    def __init__(self, gt: GroundTruth, dets: list, iou_type: str, max_dets: int, progress):
        from tqdm import tqdm

        disable = None if progress is None else not progress
        self.tqdm = lambda it, **kw: tqdm(it, disable=disable, leave=False, mininterval=1.0, **kw)
        cat_ids = list(gt.categories)
        cat_index = {c: k for k, c in enumerate(cat_ids)}
        self.n_cls = len(cat_ids)
        n_img = len(gt.image_ids)
        self.n_img = n_img
        mask = iou_type == "segm"

        # ---- ground truth, split into regular and crowd, each sorted by (image, json order)
        anns = gt.annotations
        g_img = np.fromiter((gt.image_index[a["image_id"]] for a in anns), np.int64, len(anns))
        g_cls = np.fromiter((cat_index[a["category_id"]] for a in anns), np.int64, len(anns))
        g_crowd = np.fromiter((a["iscrowd"] for a in anns), bool, len(anns))
        if mask:
            g_geom = gt.rles()
        else:
            g_geom = np.asarray([a["bbox"] for a in anns], np.float64).reshape(-1, 4)
        reg = np.flatnonzero(~g_crowd)
        reg = reg[np.argsort(g_img[reg], kind="stable")]
        crw = np.flatnonzero(g_crowd)
        crw = crw[np.argsort(g_img[crw], kind="stable")]
        self.g_img, self.g_cls = g_img[reg], g_cls[reg]
        self.n_gt_cls = np.bincount(self.g_cls, minlength=self.n_cls)

        # ---- detections: top max_dets per image by score, stable on file order
        n = len(dets)
        d_img = np.fromiter((gt.image_index[d["image_id"]] for d in dets), np.int64, n)
        d_cls = np.fromiter((cat_index[d["category_id"]] for d in dets), np.int64, n)
        d_score = np.fromiter((d["score"] for d in dets), np.float64, n)
        order = np.lexsort((np.arange(n), -d_score, d_img))
        d_img, d_cls, d_score = d_img[order], d_cls[order], d_score[order]
        starts, counts = _segments(d_img, n_img)
        rank = np.arange(n) - np.repeat(starts, counts)
        keep = rank < max_dets
        order, d_img, d_cls, d_score = order[keep], d_img[keep], d_cls[keep], d_score[keep]
        self.num_dropped_beyond_max = int((~keep).sum())
        self.d_img, self.d_cls, self.d_score = d_img, d_cls, d_score
        if mask:
            d_geom = [None] * len(order)
            for k, j in enumerate(order):
                d = dets[j]
                i = d_img[k]
                d_geom[k] = to_rle(d["segmentation"], int(gt.heights[i]), int(gt.widths[i]))
        else:
            d_geom = np.asarray([dets[j]["bbox"] for j in order], np.float64).reshape(-1, 4)
        nd = len(d_img)

        d_start, d_cnt = _segments(d_img, n_img)
        g_start, g_cnt = _segments(self.g_img, n_img)
        self.d_start, self.d_cnt, self.g_start, self.g_cnt = d_start, d_cnt, g_start, g_cnt
        gr = g_geom[reg] if not mask else [g_geom[i] for i in reg]

        # ---- crowd IoU: best crowd IoU with a same-class crowd region, per detection
        self.crowd_max = np.zeros(nd)
        c_img, c_cls = g_img[crw], g_cls[crw]
        if len(crw):
            cg = g_geom[crw] if not mask else [g_geom[i] for i in crw]
            c_start, c_cnt = _segments(c_img, n_img)
            for i in np.flatnonzero((c_cnt > 0) & (d_cnt > 0)):
                ds = slice(d_start[i], d_start[i] + d_cnt[i])
                cs = slice(c_start[i], c_start[i] + c_cnt[i])
                if mask:
                    from pycocotools import mask as mask_utils
                    iou = np.asarray(mask_utils.iou(d_geom[ds], cg[cs], [1] * c_cnt[i]))
                else:
                    iou = box_iou(d_geom[ds][:, None, :], cg[cs][None, :, :], crowd=True)
                same = d_cls[ds][:, None] == c_cls[cs][None, :]
                self.crowd_max[ds] = np.where(same, iou, -1.0).max(1).clip(min=0.0)

        # ---- padded IoU tensors of images with both detections and regular GT
        both = np.flatnonzero((d_cnt > 0) & (g_cnt > 0))
        dkey, gkey = _pow2(d_cnt[both]), _pow2(g_cnt[both])
        self.buckets = []
        for dk, gk in sorted(set(zip(dkey.tolist(), gkey.tolist()))):
            imgs = both[(dkey == dk) & (gkey == gk)]
            D, G = int(d_cnt[imgs].max()), int(g_cnt[imgs].max())
            di = d_start[imgs][:, None] + np.arange(D)[None]
            dv = np.arange(D)[None] < d_cnt[imgs][:, None]
            gi = g_start[imgs][:, None] + np.arange(G)[None]
            gv = np.arange(G)[None] < g_cnt[imgs][:, None]
            di, gi = np.where(dv, di, 0), np.where(gv, gi, 0)
            if mask:
                iou = np.zeros((len(imgs), D, G))
                from pycocotools import mask as mask_utils
                for b, i in enumerate(self.tqdm(imgs, desc="mask IoU")):
                    ds = slice(d_start[i], d_start[i] + d_cnt[i])
                    gs = slice(g_start[i], g_start[i] + g_cnt[i])
                    iou[b, :d_cnt[i], :g_cnt[i]] = mask_utils.iou(d_geom[ds], gr[gs],
                                                                  [0] * g_cnt[i])
            else:
                iou = box_iou(d_geom[di][:, :, None, :], gr[gi][:, None, :, :])
                iou *= dv[:, :, None] & gv[:, None, :]
            same = (d_cls[di][:, :, None] == self.g_cls[gi][:, None, :]) & gv[:, None, :]
            self.buckets.append((imgs, di, dv, gi, gv, iou, same))

    # ------------------------------------------------------------------ one threshold
    def run(self, t: float, bg: float) -> TideResult:
        nd, ng = len(self.d_img), len(self.g_img)
        d_tp = np.zeros(nd, bool)
        etype = np.full(nd, _BKG, np.int64)       # images without regular GT: all bkg
        target = np.full(nd, -1, np.int64)
        g_used = np.zeros(ng, bool)
        for imgs, di, dv, gi, gv, iou, same in self.tqdm(self.buckets, desc=f"TIDE @{t:g}"):
            B, D, G = iou.shape
            iou_cls = iou * same
            used = np.zeros((B, G), bool)
            matched = np.zeros((B, D), bool)
            ar = np.arange(B)
            for r in range(D):
                row = np.where(used, 0.0, iou_cls[:, r, :])
                j = row.argmax(1)
                m = (row[ar, j] >= t) & dv[:, r]
                matched[m, r] = True
                used[ar[m], j[m]] = True
            # error tests, first that holds wins
            loc_j = iou_cls.argmax(2)
            loc_v = np.take_along_axis(iou_cls, loc_j[..., None], 2)[..., 0]
            other = iou * (~same & gv[:, None, :])
            cls_j = other.argmax(2)
            cls_v = np.take_along_axis(other, cls_j[..., None], 2)[..., 0]
            dup_v = (iou_cls * used[:, None, :]).max(2)
            any_v = iou.max(2)
            e = np.full((B, D), _BOTH, np.int64)
            e[any_v <= bg] = _BKG
            e[dup_v >= t] = _DUP
            e[cls_v >= t] = _CLS
            e[(loc_v >= bg) & (loc_v <= t)] = _LOC
            tgt = np.where(e == _LOC, np.take_along_axis(gi, loc_j, 1),
                           np.where(e == _CLS, np.take_along_axis(gi, cls_j, 1), -1))
            e[matched] = _TP
            sel = dv
            d_idx = di[sel]
            d_tp[d_idx] = matched[sel]
            etype[d_idx] = e[sel]
            target[d_idx] = tgt[sel]
            g_used[gi[gv]] = used[gv]
        etype[d_tp] = _TP
        target[d_tp] = -1
        ignored = ~d_tp & (self.crowd_max > t)

        # cls/loc on an unmatched GT: that GT is usable, and the best-scoring such error fixes it
        fixable = (target >= 0) & ~g_used[np.maximum(target, 0)]
        g_usable = np.zeros(ng, bool)
        g_usable[target[fixable]] = True
        cand = np.flatnonzero(fixable)
        cand = cand[np.lexsort((cand, -self.d_score[cand], target[cand]))]
        first = np.ones(len(cand), bool)
        first[1:] = target[cand][1:] != target[cand][:-1]
        best = np.zeros(nd, bool)
        best[cand[first]] = True
        missed = ~g_used & ~g_usable

        cls, score = self.d_cls, self.d_score
        push = np.arange(nd)
        fp_in_ap = ~d_tp & ~ignored
        base_ap, _ = tide_ap(cls[d_tp | fp_in_ap], score[d_tp | fp_in_ap],
                             d_tp[d_tp | fp_in_ap], self.n_gt_cls, (push[d_tp | fp_in_ap],))
        n_gt = self.n_gt_cls

        def fixed_ap(err_mask_fixed, err_cls, err_tp, keep_err, n_gt_fixed,
                     tp_score=None, fp_score=None):
            """AP with errors first (group 0), then the original TPs (group 1)."""
            e_idx = np.flatnonzero(keep_err)
            t_idx = np.flatnonzero(d_tp)
            c = np.concatenate([err_cls[e_idx], cls[t_idx]])
            s = np.concatenate([score[e_idx] if fp_score is None else np.full(len(e_idx), fp_score),
                                score[t_idx] if tp_score is None else np.full(len(t_idx), tp_score)])
            p = np.concatenate([err_tp[e_idx], np.ones(len(t_idx), bool)])
            grp = np.concatenate([np.zeros(len(e_idx), np.int64), np.ones(len(t_idx), np.int64)])
            o = np.concatenate([e_idx, t_idx])
            return tide_ap(c, s, p, n_gt_fixed, (grp, o))[0]

        err = ~d_tp
        errors = {}
        gt_cls_of_target = np.where(target >= 0, self.g_cls[np.maximum(target, 0)], -1)
        for name, code in (("cls", _CLS), ("loc", _LOC), ("both", _BOTH), ("dup", _DUP),
                           ("bkg", _BKG)):
            this = err & (etype == code)
            keep = (err & ~this & ~ignored)                      # untouched errors, as FPs
            new_cls = cls.copy()
            new_tp = np.zeros(nd, bool)
            if code in (_CLS, _LOC):
                fixed = this & best
                keep |= fixed
                new_tp |= fixed
                if code == _CLS:
                    new_cls = np.where(fixed, gt_cls_of_target, cls)
            errors[name] = max(fixed_ap(None, new_cls, new_tp, keep, n_gt) - base_ap, 0.0)
        fp_keep = err & ~ignored
        n_gt_miss = n_gt - np.bincount(self.g_cls[missed], minlength=self.n_cls)
        errors["miss"] = max(fixed_ap(None, cls, np.zeros(nd, bool), fp_keep, n_gt_miss)
                             - base_ap, 0.0)
        n_tp = np.bincount(cls[d_tp], minlength=self.n_cls)
        special = {
            "fp": fixed_ap(None, cls, np.zeros(nd, bool), fp_keep, n_gt, tp_score=1.0,
                           fp_score=0.0) - base_ap,
            "fn": fixed_ap(None, cls, np.zeros(nd, bool), fp_keep, n_tp) - base_ap,
        }
        counts = {name: int((err & (etype == code)).sum()) for name, code in
                  (("cls", _CLS), ("loc", _LOC), ("both", _BOTH), ("dup", _DUP), ("bkg", _BKG))}
        counts["miss"] = int(missed.sum())
        counts["fp"] = int(fp_in_ap.sum())
        counts["fn"] = int((~g_used).sum())
        counts["tp"] = int(d_tp.sum())
        counts["ignored_crowd"] = int(ignored.sum())
        return TideResult(iou_threshold=t, ap=base_ap, errors=errors, special=special,
                          counts=counts)
