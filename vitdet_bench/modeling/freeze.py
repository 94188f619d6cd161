"""The frozen-backbone protocol, for every backbone family (ViT, ConvMAE, iTPN, ...).

Linear probing applied to detection: freeze the pre-trained trunk (and, separately, a
pre-trained pyramid such as iTPN's) and train the rest of the detector. Config::

    train.freeze = dict(trunk=True, pyramid=False)

Frozen parameters get ``requires_grad=False`` (so the param-group builders leave them out
of the optimizer and weight decay never touches them) and the frozen modules stay in eval
mode whatever ``model.train()`` says: their norms keep their statistics and their drop
path / dropout is off (a fixed feature extractor). The trainer reads ``train.freeze``
with :func:`freeze_options` and calls :func:`apply_freeze` after the initialization is
loaded and before the optimizer is built; it logs what is frozen and adds a ``frozen``
section to ``init_report.json``.

Which parts are "pre-trained": the network the checkpoint loader targets (a registered
format's ``find_net``, released whole-detector formats aside, else the first ``ViT``). If that network has
``pretrained_parts() -> {"trunk": prefixes, "pyramid": prefixes}`` (parameter-name
prefixes relative to it), those are used; otherwise the whole network is the trunk and
there is no pre-trained pyramid (ViT, ConvMAE: their necks start from random weights).
"""
from __future__ import annotations

import json
import logging
import os
import types
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch.nn as nn

__all__ = ["FreezeSummary", "find_pretrained_net", "pretrained_parts", "freeze_pretrained",
           "freeze_options", "apply_freeze"]

logger = logging.getLogger("vitdet_bench.freeze")


@dataclass
class FreezeSummary:
    """What :func:`freeze_pretrained` froze: ``(parameter name in the model, part)`` rows."""

    net: str = ""
    frozen: List[Tuple[str, str]] = field(default_factory=list)
    eval_modules: List[str] = field(default_factory=list)
    num_frozen: int = 0
    num_trainable: int = 0

    def to_dict(self) -> dict:
        return {"net": self.net, "frozen": [list(r) for r in self.frozen], "eval_modules": list(self.eval_modules),
                "num_frozen_parameters": self.num_frozen, "num_trainable_parameters": self.num_trainable}

    def __str__(self) -> str:
        parts: Dict[str, int] = {}
        for _, part in self.frozen:
            parts[part] = parts.get(part, 0) + 1
        lines = [f"Frozen (train.freeze): {len(self.frozen)} tensors, {self.num_frozen / 1e6:.2f}M parameters "
                 f"({', '.join(f'{p}: {n} tensors' for p, n in parts.items()) or 'none'}); "
                 f"trainable {self.num_trainable / 1e6:.2f}M; kept in eval mode: {', '.join(self.eval_modules) or '-'}"]
        from vitdet_bench.checkpoint import group_keys

        for key, part in group_keys(self.frozen):
            lines.append(f"    {key}  {part}")
        return "\n".join(lines)


def find_pretrained_net(model: nn.Module) -> Tuple[str, nn.Module]:
    """``(name in model, module)`` of the network the checkpoint loader initializes."""
    from vitdet_bench.checkpoint import find_vit, formats_newest_first

    net = None
    for fmt in formats_newest_first():
        # a released detector's format targets the whole model, not the pre-trained trunk
        if fmt.find_net is None or fmt.whole_detector:
            continue
        try:
            net = fmt.find_net(model)
        except Exception:  # noqa: BLE001  a format that finds nothing may raise
            net = None
        if net is not None:
            break
    if net is None:
        net = find_vit(model)
    for name, m in model.named_modules():
        if m is net:
            return name, m
    raise ValueError("the pre-trained network is not a submodule of the model")


def pretrained_parts(net: nn.Module) -> Dict[str, Tuple[str, ...]]:
    """Parameter-name prefixes (relative to ``net``) of its pre-trained trunk and pyramid."""
    if hasattr(net, "pretrained_parts"):
        parts = dict(net.pretrained_parts())
        return {"trunk": tuple(parts.get("trunk", ())), "pyramid": tuple(parts.get("pyramid", ()))}
    return {"trunk": ("",), "pyramid": ()}


def _train_keep_eval(self: nn.Module, mode: bool = True) -> nn.Module:
    # Frozen part: stays in eval mode (norm statistics, drop path) whatever the caller asks.
    return nn.Module.train(self, False)


def freeze_pretrained(model: nn.Module, trunk: bool = True, pyramid: bool = False) -> FreezeSummary:
    """Freeze the pre-trained trunk and/or pyramid of ``model`` (see the module doc)."""
    net_name, net = find_pretrained_net(model)
    parts = pretrained_parts(net)
    if pyramid and not parts["pyramid"]:
        raise ValueError(
            f"train.freeze.pyramid=True, but the backbone {type(net).__name__} has no pre-trained pyramid "
            "(only iTPN's integral design has one; the FPN of the other designs starts from random "
            "weights). Set train.freeze.pyramid=False.")
    chosen = ([(p, "trunk") for p in parts["trunk"]] if trunk else []) + \
        ([(p, "pyramid") for p in parts["pyramid"]] if pyramid else [])
    prefix = net_name + "." if net_name else ""
    summary = FreezeSummary(net=f"{net_name or '<model>'} ({type(net).__name__})")
    for pname, p in net.named_parameters():
        part = next((what for pre, what in chosen if pname.startswith(pre)), None)
        if part is not None:
            p.requires_grad_(False)
            summary.frozen.append((prefix + pname, part))
    def inside(mname: str) -> bool:
        return any(pre == "" or (mname + ".").startswith(pre) for pre, _ in chosen)

    for mname, m in net.named_modules():
        if not inside(mname):
            continue
        m.train = types.MethodType(_train_keep_eval, m)
        m.eval()
        parent = None if not mname else (mname.rsplit(".", 1)[0] if "." in mname else "")
        if parent is None or not inside(parent):  # list the outermost frozen modules only
            summary.eval_modules.append(prefix + mname if mname else (net_name or "<model>"))
    summary.num_frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    summary.num_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return summary


def freeze_options(freeze) -> Tuple[bool, bool]:
    """``(trunk, pyramid)`` from a ``train.freeze`` value (a dict with those boolean keys,
    or None / empty: nothing frozen). Unknown keys are an error."""
    if not freeze:
        return False, False
    unknown = [k for k in freeze if k not in ("trunk", "pyramid")]
    if unknown:
        raise ValueError(f"train.freeze has unknown keys {unknown}; expected trunk and/or pyramid (booleans)")
    return bool(freeze.get("trunk", False)), bool(freeze.get("pyramid", False))


def apply_freeze(model: nn.Module, trunk: bool = False, pyramid: bool = False,
                 output_dir: Optional[str] = None) -> Optional[FreezeSummary]:
    """:func:`freeze_pretrained` for a training run: logs the summary and records it in
    ``<output_dir>/init_report.json`` (when that report exists). None when nothing is frozen."""
    if not (trunk or pyramid):
        return None
    net = model.module if hasattr(model, "module") else model
    summary = freeze_pretrained(net, trunk=trunk, pyramid=pyramid)
    logger.info("\n%s", summary)
    report = os.path.join(output_dir, "init_report.json") if output_dir else None
    from detectron2.utils import comm

    if report and os.path.isfile(report) and comm.is_main_process():
        from vitdet_bench.utils.io import atomic_write_json

        with open(report) as f:
            data = json.load(f)
        data["frozen"] = summary.to_dict()
        atomic_write_json(report, data)
    return summary
