"""The load report and the error every checkpoint problem raises."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

__all__ = ["LoadReport", "CheckpointError", "group_keys"]


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded: unreadable, foreign or of an unknown layout.

    The message names the file and the offending keys.
    """


_BLOCK = re.compile(r"(blocks\.)(\d+)(\.)")


def group_keys(keys_with_info):
    """Collapse ``blocks.0.x``, ``blocks.1.x`` ... with identical info into ``blocks.{0-11}.x``."""
    groups: Dict[Tuple[str, str], List[int]] = {}
    order = []
    for key, info in keys_with_info:
        m = _BLOCK.search(key)
        if m:
            pattern = key[: m.start(2)] + "{}" + key[m.end(2):]
            gk = (pattern, info)
            idx = int(m.group(2))
        else:
            gk, idx = (key, info), None
        if gk not in groups:
            groups[gk] = []
            order.append(gk)
        if idx is not None:
            groups[gk].append(idx)
    out = []
    for gk in order:
        pattern, info = gk
        idxs = groups[gk]
        if "{}" in pattern:
            idxs = sorted(idxs)
            contiguous = idxs == list(range(idxs[0], idxs[-1] + 1))
            label = (f"{idxs[0]}" if len(idxs) == 1 else
                     f"{idxs[0]}-{idxs[-1]}" if contiguous else ",".join(map(str, idxs)))
            pattern = pattern.replace("{}", "{" + label + "}" if len(idxs) > 1 else label)
        out.append((pattern, info))
    return out


@dataclass
class LoadReport:
    """What a :func:`load_pretrained` call did, tensor by tensor (keys in the ViT's key space).

    Attributes:
        path: the checkpoint file ("" for the random initialization).
        format: the format used (detected or forced).
        loaded: target keys copied from the checkpoint (possibly after resizing).
        resized: ``(key, from_shape, to_shape)`` of loaded tensors that were interpolated.
        initialized: ``(key, how)`` of target tensors set fresh, not from the file.
        ignored: ``(checkpoint key, rule)`` of checkpoint tensors dropped by a named rule.
        unexpected: checkpoint keys that match nothing and no rule (an error unless
            ``strict_architecture=False``).
        notes: warnings about the load as a whole (e.g. a forced format the file does
            not look like, loaded because strictness was off).
        trusted_pickle: the file was read with the full unpickler on the user's opt-in
            (``train.trust_checkpoint=True`` / ``--trust-checkpoint``), not the safe reader.
    """

    path: str = ""
    format: str = ""
    loaded: List[str] = field(default_factory=list)
    resized: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
    initialized: List[Tuple[str, str]] = field(default_factory=list)
    ignored: List[Tuple[str, str]] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    trusted_pickle: bool = False

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "format": self.format,
            "loaded": list(self.loaded),
            "resized": [[k, list(a), list(b)] for k, a, b in self.resized],
            "initialized": [[k, how] for k, how in self.initialized],
            "ignored": [[k, rule] for k, rule in self.ignored],
            "unexpected": list(self.unexpected),
            "notes": list(self.notes),
            "trusted_pickle": bool(self.trusted_pickle),
        }

    def __str__(self) -> str:
        lines = [f"Checkpoint load report: {self.path or '(no file)'}",
                 f"  format: {self.format}",
                 f"  loaded: {len(self.loaded)} tensors, resized: {len(self.resized)}, "
                 f"initialized fresh: {len(self.initialized)}, ignored by rule: {len(self.ignored)}, "
                 f"unexpected: {len(self.unexpected)}"]
        if self.trusted_pickle:
            lines.append("  WARNING: trusted_pickle: read with the full unpickler (the user's opt-in)")
        lines.extend(f"  WARNING: {note}" for note in self.notes)

        def section(title, rows):
            if not rows:
                return
            width = max(len(r[0]) for r in rows)
            lines.append(f"  {title}:")
            for key, info in rows:
                lines.append(f"    {key.ljust(width)}  {info}" if info else f"    {key}")

        section("loaded", group_keys((k, "") for k in self.loaded))
        section("resized", [(k, f"{tuple(a)} -> {tuple(b)}") for k, a, b in self.resized])
        section("initialized fresh", group_keys(self.initialized))
        section("ignored by rule", group_keys(self.ignored))
        section("unexpected", group_keys((k, "") for k in self.unexpected))
        return "\n".join(lines)
