"""The weights ``--eval-only`` evaluates: one reader, one registry, one report, nothing fresh.

Every file given to ``tools/train_net.py --eval-only`` (``train.init_checkpoint``) goes
through the format registry, its auto-detection, the safe reader and the load report, as
pre-trained files do: a released detector (``vitdet_d2``, ``convmae_det``), a detector
this project trained (``detectron2``: ``model_final.pth``, our key names), or anything
else a format recognises. An evaluation whose weights leave any tensor of the detector at
its initialization is an error naming those tensors (a partly random model is never what
an evaluation is asked for) unless ``train.eval_allow_fresh=True``; file tensors with no
place in the model are an error unless ``train.init_lenient=True``.
"""
from __future__ import annotations

import logging
import os
from typing import List, Optional

import torch.nn as nn

from .loader import formats_newest_first, get_format, load_pretrained, register_format
from .released import find_detector, released_formats
from .report import CheckpointError, LoadReport, group_keys
from .safe_load import TRUST_OPTION

__all__ = ["DETECTRON2", "ALLOW_FRESH_OPTION", "detect_detectron2", "fresh_tensors",
           "is_whole_detector_format", "evaluation_format",
           "load_for_evaluation", "load_evaluation_weights"]

logger = logging.getLogger("vitdet_bench")

DETECTRON2 = "detectron2"
ALLOW_FRESH_OPTION = "train.eval_allow_fresh=True"
LENIENT_OPTION = "train.init_lenient=True"


# ------------------------------------------------- a detector in our key names
def detect_detectron2(raw: dict) -> bool:
    """A whole detector saved by detectron2's checkpointer in this project's key names
    (``{'model': {'backbone.*', 'proposal_generator.*', 'roi_heads.*'}, ...}``, e.g. a
    run's ``model_final.pth``); the released layouts are their own formats."""
    sd = raw.get("model")
    if not isinstance(sd, dict):
        return False
    # a family's released layout (vitdet_d2, convmae_det, ...) is its own format
    if any(f.whole_detector and f.name != DETECTRON2 and f.detect is not None and f.detect(raw)
           for f in formats_newest_first()):
        return False
    return (any(k.startswith("backbone.") for k in sd)
            and any(k.startswith(("roi_heads.", "proposal_generator.")) for k in sd))


def convert_detectron2(state_dict, net: nn.Module, report: LoadReport):
    return dict(state_dict)  # already in the detector's key space


def is_whole_detector_format(name: Optional[str]) -> bool:
    """Whether the registered format ``name`` loads a whole detector (``whole_detector=True``)."""
    fmt = get_format(name) if name else None
    return bool(fmt is not None and fmt.whole_detector)


# ------------------------------------------------------------ what stayed fresh
def _net_prefix(model: nn.Module, loaded: List[str]) -> Optional[str]:
    """The module path (``backbone.net.``) under which the report's keys live in ``model``."""
    keys = set(model.state_dict())
    probe = loaded[:5]
    for name, _ in model.named_modules():
        prefix = f"{name}." if name else ""
        if all(prefix + k in keys for k in probe):
            return prefix
    return None


def fresh_tensors(model: nn.Module, report: LoadReport) -> List[str]:
    """The model's tensors the load did not fill from the file (``num_batches_tracked``,
    a BatchNorm step counter unused at inference, aside)."""
    keys = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    if not report.loaded:
        return keys
    prefix = _net_prefix(model, report.loaded)
    if prefix is None:
        raise CheckpointError(f"{report.path}: the load report's tensors are not in the model")
    loaded = {prefix + k for k in report.loaded}
    return [k for k in keys if k not in loaded]


def _listing(keys: List[str], limit: int = 12) -> str:
    rows = [k for k, _ in group_keys((k, "") for k in keys)]
    return ", ".join(rows[:limit]) + (f" (+{len(rows) - limit} more groups)" if len(rows) > limit else "")


def evaluation_format(path: str, format: str = "auto", trust_checkpoint: bool = False,
                      trust_option: str = TRUST_OPTION) -> str:
    """The format an evaluation loads ``path`` with.

    A config's ``train.init_format`` names the pre-trained backbone it trains from (e.g.
    ``mae`` in configs/vitdet); a backbone format can never fill a detector, so for a file
    detected as a whole detector (a released ``model_final_*.pkl``) the detected format is
    used. A forced whole-detector format, or "auto", is kept as given.
    """
    fmt = (format or "auto").lower()
    if fmt == "auto" or is_whole_detector_format(fmt):
        return fmt
    from .loader import detect_format, read_checkpoint

    raw = read_checkpoint(path, trust=trust_checkpoint, trust_option=trust_option)
    try:
        detected = detect_format(raw, path)
    except CheckpointError:
        return fmt
    if detected != fmt and is_whole_detector_format(detected):
        logger.info("%s: a whole detector (%s, detected from its keys); the config's "
                    "train.init_format=%r names the backbone it trains from", path, detected, fmt)
        return detected
    return fmt


def load_for_evaluation(model: nn.Module, path: str, format: str = "auto", lenient: bool = False,
                        allow_fresh: bool = False, trust_checkpoint: bool = False,
                        lenient_option: str = LENIENT_OPTION,
                        allow_fresh_option: str = ALLOW_FRESH_OPTION,
                        trust_option: str = TRUST_OPTION) -> LoadReport:
    """Load the weights an evaluation runs on into the detector ``model``; returns the
    printed :class:`LoadReport`. Raises :class:`CheckpointError` for a file that does not
    fill the whole detector (``allow_fresh`` accepts it), that has tensors with no place
    in it or looks like another format than the forced one (``lenient`` accepts those)."""
    format = evaluation_format(path, format, trust_checkpoint, trust_option)
    report = load_pretrained(model, path, format=format, strict_architecture=False,
                             lenient_option=lenient_option, trust_checkpoint=trust_checkpoint,
                             trust_option=trust_option)
    problems = []
    mismatch = [n for n in report.notes if "was asked for" in n]
    if mismatch and not lenient:
        problems.append(mismatch[0].split(";")[0] + f" (pass {lenient_option} to evaluate it "
                        f"as {report.format!r} anyway)")
    if report.unexpected and not lenient:
        problems.append(f"{len(report.unexpected)} tensors of the file have no place in the "
                        f"model: {_listing(report.unexpected)}; the file is another layout or "
                        f"architecture than the config's (pick the config that matches it, see "
                        f"docs/vitdet.md; {lenient_option} evaluates the overlap)")
    fresh = fresh_tensors(model, report)
    if fresh and not allow_fresh:
        total = sum(1 for k in model.state_dict() if not k.endswith("num_batches_tracked"))
        what = ("a pre-trained backbone, not a detector: fine-tune it first"
                if report.format not in released_formats() else
                "a detector whose tensors do not all match this config's")
        problems.append(
            f"{len(fresh)} of the detector's {total} tensors would be evaluated at their "
            f"random initialization, because the file (format {report.format!r}) does not "
            f"hold them: {_listing(fresh)}. It looks like {what}. An evaluation of a partly "
            f"random model is not an evaluation of the file; pass {allow_fresh_option} if "
            "that is what you want")
    if problems:
        raise CheckpointError(f"{path}: not evaluated: " + "; ".join(problems) + ".")
    if fresh:
        note = (f"{len(fresh)} tensors evaluated at their initialization ({allow_fresh_option}): "
                f"{_listing(fresh)}")
        report.notes.append(note)
        logger.warning(note)
    return report


def load_evaluation_weights(model: nn.Module, train_cfg, write_report: bool = True) -> LoadReport:
    """:func:`load_for_evaluation` with the options of a config's ``train`` node
    (``init_checkpoint``, ``init_format``, ``init_lenient``, ``eval_allow_fresh``,
    ``trust_checkpoint``); writes ``init_report.json`` to ``train.output_dir``."""
    def get(key, default=None):
        return train_cfg.get(key, default) if hasattr(train_cfg, "get") else default

    net = model.module if hasattr(model, "module") else model
    path = get("init_checkpoint", "") or ""
    if "://" in path:  # detectron2://, https://: fetched to the local cache, then read safely
        from detectron2.utils.file_io import PathManager

        path = PathManager.get_local_path(path)
    report = load_for_evaluation(
        net, path, format=get("init_format", "auto") or "auto",
        lenient=bool(get("init_lenient", False)), allow_fresh=bool(get("eval_allow_fresh", False)),
        trust_checkpoint=bool(get("trust_checkpoint", False)))
    out = get("output_dir")
    if write_report and out:
        from detectron2.utils import comm

        from ..utils.io import atomic_write_json

        if comm.is_main_process():
            atomic_write_json(os.path.join(str(out), "init_report.json"), report.to_dict())
    return report


# Registered after the released formats, which its detector leaves to them.
register_format(DETECTRON2, detect_detectron2, convert_detectron2, find_net=find_detector,
                whole_detector=True)
