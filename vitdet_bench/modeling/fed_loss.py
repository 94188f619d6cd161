"""The federated loss of LVIS training (Zhou et al. 2021, "Probabilistic two-stage detection").

On a federated dataset an image says nothing about most categories, so a softmax
over all 1203 classes punishes detections of categories that may be present. The
federated loss replaces it with a sigmoid cross-entropy over a subset of classes
per iteration: the classes of the batch's ground truth plus negatives sampled
without replacement with probability proportional to ``image_count ** 0.5``, up to
``fed_loss_num_classes`` (50) classes in all; the other classes get no loss.

detectron2 main has it in ``FastRCNNOutputLayers`` (``use_sigmoid_ce``,
``use_fed_loss``, ``get_fed_loss_cls_weights``, ``fed_loss_num_classes``);
detectron2 0.6 does not. :func:`box_predictor_class` returns detectron2's class
when it takes ``use_fed_loss`` (a feature check; nothing is patched) and
:class:`FederatedFastRCNNOutputLayers`, the same behaviour on top of 0.6's
class, otherwise. ViTDet's LVIS configs set::

    box_predictor.use_sigmoid_ce = True
    box_predictor.use_fed_loss = True
    box_predictor.get_fed_loss_cls_weights = lambda: get_fed_loss_cls_weights(names, 0.5)
    box_predictor.test_score_thresh = 0.02
    box_predictor.test_topk_per_image = 300
"""
from __future__ import annotations

import inspect
from typing import Callable, List, Optional, Union

import torch
import torch.nn.functional as F
from detectron2.modeling.roi_heads.fast_rcnn import FastRCNNOutputLayers
from detectron2.layers import cat

__all__ = ["get_fed_loss_classes", "get_fed_loss_cls_weights", "sigmoid_ce_loss",
           "FederatedFastRCNNOutputLayers", "has_upstream_fed_loss", "box_predictor_class",
           "fed_loss_cls_weights_fn"]


def has_upstream_fed_loss(cls=FastRCNNOutputLayers) -> bool:
    """Whether detectron2's FastRCNNOutputLayers takes ``use_fed_loss`` (detectron2 main)."""
    init = inspect.unwrap(cls.__init__)
    return "use_fed_loss" in inspect.signature(init).parameters


def box_predictor_class(cls=FastRCNNOutputLayers):
    """The box predictor class to configure with ``use_fed_loss``: detectron2's when it has
    the federated loss, else :class:`FederatedFastRCNNOutputLayers`."""
    return cls if has_upstream_fed_loss(cls) else FederatedFastRCNNOutputLayers


def get_fed_loss_cls_weights(dataset_names: Union[str, List[str]],
                             freq_weight_power: float = 1.0) -> torch.Tensor:
    """Per-class sampling weights ``image_count ** freq_weight_power`` of an LVIS training set."""
    from vitdet_bench.data.lvis import class_image_counts

    names = [dataset_names] if isinstance(dataset_names, str) else list(dataset_names)
    counts = [class_image_counts(n) for n in names]
    if any(c != counts[0] for c in counts[1:]):
        raise ValueError(f"The training sets {names} disagree on their classes' image counts; "
                         "the federated loss needs one weight per class.")
    return torch.tensor(counts[0], dtype=torch.float32) ** freq_weight_power


def get_fed_loss_classes(gt_classes: torch.Tensor, num_fed_loss_classes: int, num_classes: int,
                         weight: torch.Tensor) -> torch.Tensor:
    """The classes that get a loss: the ground-truth classes (background ``num_classes``
    included when present, it is dropped later) and, while fewer than
    ``num_fed_loss_classes``, negatives drawn without replacement with probability
    proportional to ``weight``."""
    unique = torch.unique(gt_classes)
    prob = unique.new_ones(num_classes + 1).float()
    prob[-1] = 0                                   # background is never drawn
    if len(unique) >= num_fed_loss_classes:
        return unique
    prob[:num_classes] = weight.float().clone()
    prob[unique] = 0                               # positives are in already
    negatives = torch.multinomial(prob, num_fed_loss_classes - len(unique), replacement=False)
    return torch.cat([unique, negatives])


def sigmoid_ce_loss(scores: torch.Tensor, gt_classes: torch.Tensor,
                    class_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Sigmoid cross-entropy over the foreground logits, summed over (masked) classes and
    averaged over proposals; background proposals have all-zero targets."""
    if scores.numel() == 0:
        return scores.new_zeros([1])[0]
    n, k = scores.shape[0], scores.shape[1] - 1
    target = scores.new_zeros(n, k + 1)
    target[torch.arange(n, device=scores.device), gt_classes] = 1
    loss = F.binary_cross_entropy_with_logits(scores[:, :-1], target[:, :k], reduction="none")
    if class_mask is not None:
        loss = loss * class_mask.view(1, k).float()
    return loss.sum() / n


class FederatedFastRCNNOutputLayers(FastRCNNOutputLayers):
    """detectron2 0.6's FastRCNNOutputLayers with detectron2 main's sigmoid CE and federated loss.

    Box regression, inference and every other argument are the parent's; only the
    classification loss (and, with ``use_sigmoid_ce``, the class probabilities) change.
    """

    def __init__(self, *args, use_sigmoid_ce: bool = False, use_fed_loss: bool = False,
                 get_fed_loss_cls_weights: Optional[Callable[[], torch.Tensor]] = None,
                 fed_loss_num_classes: int = 50, **kwargs):
        super().__init__(*args, **kwargs)
        self.use_sigmoid_ce = use_sigmoid_ce
        self.use_fed_loss = use_fed_loss
        self.fed_loss_num_classes = fed_loss_num_classes
        if use_fed_loss:
            if not use_sigmoid_ce:
                raise ValueError("use_fed_loss=True needs use_sigmoid_ce=True: the federated "
                                 "loss is a per-class sigmoid cross-entropy.")
            if get_fed_loss_cls_weights is None:
                raise ValueError("use_fed_loss=True needs get_fed_loss_cls_weights, a callable "
                                 "returning one sampling weight per class (e.g. "
                                 "get_fed_loss_cls_weights(dataset_names, 0.5)).")
            if fed_loss_num_classes > self.num_classes:
                raise ValueError(
                    f"fed_loss_num_classes={fed_loss_num_classes} is more than the predictor's "
                    f"{self.num_classes} classes: the federated loss draws that many classes "
                    "per iteration without replacement. Set box_predictor.fed_loss_num_classes "
                    f"to at most {self.num_classes} (LVIS: 50 of 1203).")
            weights = get_fed_loss_cls_weights()
            if len(weights) != self.num_classes:
                raise ValueError(f"get_fed_loss_cls_weights returned {len(weights)} weights for "
                                 f"a box predictor of {self.num_classes} classes.")
            self.register_buffer("fed_loss_cls_weights", torch.as_tensor(weights).float())

    def losses(self, predictions, proposals):
        losses = super().losses(predictions, proposals)
        if not self.use_sigmoid_ce:
            return losses
        scores, _ = predictions
        gt_classes = (cat([p.gt_classes for p in proposals], dim=0) if len(proposals)
                      else torch.empty(0, dtype=torch.int64, device=scores.device))
        mask = None
        if self.use_fed_loss:
            k = self.num_classes
            classes = get_fed_loss_classes(gt_classes, self.fed_loss_num_classes, k,
                                           self.fed_loss_cls_weights)
            mask = gt_classes.new_zeros(k + 1)
            mask[classes] = 1
            mask = mask[:k]
        losses["loss_cls"] = sigmoid_ce_loss(scores, gt_classes, mask) * \
            self.loss_weight.get("loss_cls", 1.0)
        return losses

    def predict_probs(self, predictions, proposals):
        if not self.use_sigmoid_ce:
            return super().predict_probs(predictions, proposals)
        scores, _ = predictions
        return scores.sigmoid().split([len(p) for p in proposals], dim=0)


def fed_loss_cls_weights_fn(dataset_names: Union[str, List[str]],
                            freq_weight_power: float = 0.5) -> Callable[[], torch.Tensor]:
    """``get_fed_loss_cls_weights`` as a box predictor takes it in a LazyConfig: a callable
    that reads the weights when the model is built (upstream configs write a lambda,
    which a config file cannot be saved with)."""
    import functools

    names = dataset_names if isinstance(dataset_names, str) else list(dataset_names)
    return functools.partial(get_fed_loss_cls_weights, names, freq_weight_power)
