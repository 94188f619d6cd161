"""Released fine-tuned detectors, whole: the authors' own models for ``--eval-only``.

The library's layout, registered with the format registry (auto-detected; or
``train.init_format=<name>``) and loaded through :func:`load_pretrained` with its report:

``vitdet_d2`` — detectron2 model zoo, ``projects/ViTDet`` ``model_final_*.pkl``
    A pickle ``{"model": {name: numpy array}, "__author__": ...}`` of
    ``GeneralizedRCNN(backbone=SimpleFeaturePyramid(net=ViT))``. The ViT
    (``backbone.net.*``) has our key names, its ``pos_embed`` is the ``(1, 197, C)``
    pre-training table (configs/vitdet use ``pos_embed_grid="pretrain"``, so it lands
    as is). The pyramid's branches are named by output stage, ``backbone.simfp_{2,3,4,5}``,
    each one flat ``nn.Sequential`` of [resampling layers..., 1x1 conv, 3x3 conv]; ours are
    ``backbone.stages.{0-3}`` = [resampling module, 1x1 conv, 3x3 conv]. Heads are
    detectron2's in both.

A family's own released detectors register beside the family with
``whole_detector=True`` (e.g. ``convmae_det`` in ``projects/ConvMAE/convmae/released.py``);
:func:`released_formats` sees every registered one.

Every tensor of the file must land in the model (or be reported as ignored with its
rule); with ``strict_architecture`` a model tensor the file lacks is an error, so a
released detector is evaluated exactly as published or not at all.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional

import torch
import torch.nn as nn

from .loader import register_format, whole_detector_formats
from .report import CheckpointError, LoadReport

__all__ = ["VITDET_D2", "detect_vitdet_d2", "convert_vitdet_d2", "find_detector", "model_dict",
           "released_formats"]

VITDET_D2 = "vitdet_d2"

# backbone.simfp_<stage>.<layer>.<rest>
_SIMFP = re.compile(r"^backbone\.simfp_(\d+)\.(\d+)\.(.+)$")


def model_dict(raw: dict) -> Optional[dict]:
    """``raw["model"]`` when it is a dict (the layout of every released detector), else None."""
    inner = raw.get("model")
    return inner if isinstance(inner, dict) else None


def find_detector(model: nn.Module) -> nn.Module:
    """The whole detector: a released file fills backbone, neck and heads."""
    if all(hasattr(model, a) for a in ("backbone", "proposal_generator", "roi_heads")):
        return model
    raise CheckpointError(
        f"a released whole-detector checkpoint loads into a detector (GeneralizedRCNN with "
        f"backbone, proposal_generator and roi_heads), not into a {type(model).__name__}; "
        "pass the model built from the matching config (docs/vitdet.md)")


# --------------------------------------------------------- detectron2 ViTDet
def detect_vitdet_d2(raw: dict) -> bool:
    sd = model_dict(raw)
    return (sd is not None and "backbone.net.blocks.0.attn.qkv.weight" in sd
            and any(k.startswith("backbone.simfp_") for k in sd))


def _stage_layout(stage: nn.Module):
    """Number of resampling layers upstream flattens into the branch, and whether ours
    nests them in one Sequential (4x) or holds the single layer directly (2x, 0.5x)."""
    head = stage[0]
    if isinstance(head, nn.Sequential):
        return len(head), True
    if isinstance(head, nn.Identity):
        return 0, False
    return 1, False


def convert_vitdet_d2(state_dict, net: nn.Module, report: LoadReport) -> Dict[str, torch.Tensor]:
    """detectron2 ViTDet detector -> our detector's key space (``net`` the detector)."""
    sfp = net.backbone
    stages = getattr(sfp, "stages", None)
    if stages is None or not hasattr(sfp, "net"):
        raise CheckpointError(
            f"{report.path}: a detectron2 ViTDet detector needs a model whose backbone is "
            f"SimpleFeaturePyramid(net=ViT) (configs/vitdet/*), got {type(sfp).__name__}")
    # upstream names a branch by its output stage (simfp_2 -> p2): our stages[i] -> p{k}
    index = {int(f[1:]): i for i, f in enumerate(sfp._out_features[:len(stages)])}
    out = {}
    for key, value in state_dict.items():
        m = _SIMFP.match(key)
        if not m:
            out[key] = value
            continue
        stage_no, layer, rest = int(m.group(1)), int(m.group(2)), m.group(3)
        if stage_no not in index:
            out[key] = value  # reported as unexpected
            continue
        i = index[stage_no]
        n_resample, nested = _stage_layout(stages[i])
        if layer < n_resample:
            ours = f"backbone.stages.{i}.0." + (f"{layer}." if nested else "") + rest
        else:
            ours = f"backbone.stages.{i}.{1 + layer - n_resample}.{rest}"
        out[ours] = value
    return out


def released_formats() -> List[str]:
    """Names of every registered released-detector format (``whole_detector=True``)."""
    return whole_detector_formats()


register_format(VITDET_D2, detect_vitdet_d2, convert_vitdet_d2, find_net=find_detector,
                whole_detector=True)
