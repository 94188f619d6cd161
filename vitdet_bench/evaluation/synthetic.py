"""Synthetic detections made by perturbing real ground truth (tests and benchmark).

``perturb_detections`` turns a COCO ground truth into a results list that holds
every TIDE error type: jittered true positives, badly localized boxes, class
swaps, duplicates, background boxes, dropped objects (misses) and low-score
filler up to ``dets_per_image`` per image. ``tile_ground_truth`` repeats a small
set (coco128) into a val2017-sized one.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np

__all__ = ["tile_ground_truth", "perturb_detections"]


def tile_ground_truth(gt: dict, num_images: int) -> dict:
    """Repeat ``gt``'s images (with fresh image / annotation ids) to ``num_images`` images."""
    images, anns = gt["images"], gt["annotations"]
    by_img: dict = {}
    for a in anns:
        by_img.setdefault(a["image_id"], []).append(a)
    id_step = max(int(i["id"]) for i in images) + 1
    out_imgs, out_anns = [], []
    next_ann = 1
    for k in range(num_images):
        copy_no, src = divmod(k, len(images))
        img = dict(images[src])
        img["id"] = int(images[src]["id"]) + copy_no * id_step
        out_imgs.append(img)
        for a in by_img.get(images[src]["id"], []):
            b = dict(a)
            b["image_id"], b["id"] = img["id"], next_ann
            next_ann += 1
            out_anns.append(b)
    return {"images": out_imgs, "annotations": out_anns,
            "categories": copy.deepcopy(gt["categories"])}


def perturb_detections(gt: dict, seed: int = 0, dets_per_image: int = 0, masks: bool = False,
                       p_drop: float = 0.12, p_loc: float = 0.15, p_cls: float = 0.08,
                       p_dup: float = 0.12, bkg_per_image: float = 1.5) -> list:
    """Detections from ``gt`` with every error type; ``masks`` adds RLE segmentations."""
    rng = np.random.default_rng(seed)
    imgs = gt["images"]
    img_pos = {im["id"]: k for k, im in enumerate(imgs)}
    W = np.array([im["width"] for im in imgs], np.float64)
    H = np.array([im["height"] for im in imgs], np.float64)
    cat_ids = np.array([c["id"] for c in gt["categories"]])
    anns = [a for a in gt["annotations"] if not a.get("iscrowd", 0)]
    n = len(anns)
    a_img = np.array([img_pos[a["image_id"]] for a in anns], np.int64)
    a_box = np.array([a["bbox"] for a in anns], np.float64).reshape(-1, 4)
    a_cat = np.array([a["category_id"] for a in anns])

    kind = rng.random(n)
    keep = kind >= p_drop                                  # the rest are missed
    loc = keep & (kind < p_drop + p_loc)
    parts = []  # (src ann or -1, img, cat, box, score)

    def jitter(idx, sigma):
        b = a_box[idx].copy()
        wh = np.maximum(b[:, 2:], 1.0)
        b[:, :2] += rng.normal(0, 1, (len(idx), 2)) * sigma[:, None] * wh
        b[:, 2:] *= np.exp(rng.normal(0, 1, (len(idx), 2)) * sigma[:, None])
        return b

    good = np.flatnonzero(keep & ~loc)
    box = jitter(good, rng.uniform(0.02, 0.12, len(good)))
    cat = a_cat[good].copy()
    swap = rng.random(len(good)) < p_cls
    cat[swap] = rng.choice(cat_ids, swap.sum())
    score = np.where(swap, rng.uniform(0.2, 0.9, len(good)), rng.uniform(0.35, 1.0, len(good)))
    parts.append((good, a_img[good], cat, box, score))

    li = np.flatnonzero(loc)
    b = a_box[li].copy()
    ang = rng.uniform(0, 2 * np.pi, len(li))
    shift = rng.uniform(0.35, 0.8, len(li))
    b[:, 0] += np.cos(ang) * shift * b[:, 2]
    b[:, 1] += np.sin(ang) * shift * b[:, 3]
    parts.append((li, a_img[li], a_cat[li], b, rng.uniform(0.2, 0.95, len(li))))

    di = good[rng.random(len(good)) < p_dup]
    parts.append((di, a_img[di], a_cat[di], jitter(di, rng.uniform(0.02, 0.1, len(di))),
                  rng.uniform(0.05, 0.8, len(di))))

    nb = rng.poisson(bkg_per_image, len(imgs))
    parts.append(_random_boxes(rng, np.repeat(np.arange(len(imgs)), nb), W, H, cat_ids,
                               rng.uniform(0.0, 0.7, nb.sum())))
    if dets_per_image:
        have = np.bincount(np.concatenate([p[1] for p in parts]), minlength=len(imgs))
        fill = np.maximum(dets_per_image - have, 0)
        fi = np.repeat(np.arange(len(imgs)), fill)
        # filler near objects (loc / cls / both errors) and anywhere (bkg)
        parts.append(_random_boxes(rng, fi, W, H, cat_ids, rng.uniform(0.0, 0.3, len(fi))))

    src = np.concatenate([p[0] for p in parts])
    img = np.concatenate([p[1] for p in parts])
    cat = np.concatenate([p[2] for p in parts])
    box = np.concatenate([p[3] for p in parts])
    score = np.concatenate([p[4] for p in parts])
    # clip to the image like a detector does; keep boxes non-empty
    x1 = np.clip(box[:, 0], 0, W[img] - 1)
    y1 = np.clip(box[:, 1], 0, H[img] - 1)
    x2 = np.clip(box[:, 0] + box[:, 2], x1 + 1, W[img])
    y2 = np.clip(box[:, 1] + box[:, 3], y1 + 1, H[img])
    box = np.round(np.stack([x1, y1, x2 - x1, y2 - y1], 1), 2)
    score = np.round(score, 6)
    perm = rng.permutation(len(img))
    img_ids = [im["id"] for im in imgs]
    out = [{"image_id": img_ids[img[k]], "category_id": int(cat[k]),
            "bbox": box[k].tolist(), "score": float(score[k])} for k in perm]
    if masks:
        _add_masks(out, [src[k] for k in perm], anns, gt, box[perm], img[perm], a_box, H, W)
    return out


def _random_boxes(rng, img, W, H, cat_ids, score):
    n = len(img)
    w = W[img] * rng.uniform(0.03, 0.5, n)
    h = H[img] * rng.uniform(0.03, 0.5, n)
    x = rng.uniform(0, 1, n) * (W[img] - w)
    y = rng.uniform(0, 1, n) * (H[img] - h)
    return (np.full(n, -1), img, rng.choice(cat_ids, n), np.stack([x, y, w, h], 1), score)


def _add_masks(out, srcs, anns, gt, boxes, imgs, a_box, H, W):
    """Shifted GT masks for detections made from GT, filled boxes for the others."""
    from pycocotools import mask as mask_utils

    from .inputs import to_rle

    cache = {}
    for d, s, b, i in zip(out, srcs, boxes, imgs):
        h, w = int(H[i]), int(W[i])
        if s < 0:
            x, y, bw, bh = b
            poly = [[x, y, x + bw, y, x + bw, y + bh, x, y + bh]]
            rle = mask_utils.merge(mask_utils.frPyObjects(poly, h, w))
        else:
            if s not in cache:
                with warnings.catch_warnings():  # pycocotools vs numpy 2 copy= deprecation
                    warnings.simplefilter("ignore", DeprecationWarning)
                    cache[s] = mask_utils.decode(to_rle(anns[s]["segmentation"], h, w))
            m = cache[s]
            dx = int(round(b[0] - a_box[s][0]))
            dy = int(round(b[1] - a_box[s][1]))
            sh = np.zeros_like(m)
            ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
            xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
            if abs(dx) < w and abs(dy) < h:
                sh[yd, xd] = m[ys, xs]
            rle = mask_utils.encode(np.asfortranarray(sh))
        rle["counts"] = rle["counts"].decode("ascii")
        d["segmentation"] = rle
