"""Files of a ViT family whose parts no format of the project can place.

A DINOv2 ViT in timm's layout has the keys of a plain timm ViT plus LayerScale
(``blocks.N.ls1.gamma``), optionally registers (``reg_token``) and SwiGLU MLPs
(``mlp.w12`` / ``mlp.fc1_g``); DINOv3 / EVA-02 add rotary position embeddings
(``rope_embed.periods``, ``rope.freqs``). Detection by keys alone would call such a file
"supervised" and a lenient load would drop those tensors: a different network, silently.
These parts change the function of every block, so the file is refused whatever the
strictness, and the error names the architecture instead of suggesting a lenient load.
"""
from __future__ import annotations

import re
from typing import Dict, Iterable, List, Tuple

from .report import CheckpointError

__all__ = ["ARCHITECTURE_FEATURES", "unrepresentable_features", "check_representable"]

# (feature, family it indicates, key pattern)
ARCHITECTURE_FEATURES: Tuple[Tuple[str, str, "re.Pattern"], ...] = (
    ("LayerScale", "DINOv2-style ViT", re.compile(r"(^|\.)ls[12]\.(gamma|scale_factor)$")),
    ("registers", "DINOv2-style ViT", re.compile(r"(^|\.)(reg_token|register_tokens)$")),
    ("SwiGLU", "DINOv2-style ViT", re.compile(r"\.mlp\.(w12|w3|fc1_g|fc1_x)\.")),
    ("RoPE", "DINOv3 / EVA-02-style ViT (rotary position embedding)",
     re.compile(r"(^|\.)rope\w*\.(periods|freqs\w*)$")),
)


def unrepresentable_features(file_keys: Iterable[str], model_keys: Iterable[str]
                             ) -> Dict[str, Tuple[str, List[str]]]:
    """``{feature: (family, file keys)}`` of the features in ``file_keys`` that the model
    has no tensor for (a model key with the same ending would place them)."""
    model_tails = {".".join(k.split(".")[-2:]) for k in model_keys}
    found: Dict[str, Tuple[str, List[str]]] = {}
    for key in file_keys:
        for feature, family, pattern in ARCHITECTURE_FEATURES:
            if pattern.search(key) and ".".join(key.split(".")[-2:]) not in model_tails:
                found.setdefault(feature, (family, []))[1].append(key)
                break
    order = [feature for feature, _, _ in ARCHITECTURE_FEATURES]
    return {f: found[f] for f in order if f in found}


def check_representable(path: str, file_keys: Iterable[str], model_keys: Iterable[str],
                        format_name: str) -> None:
    """Raise :class:`CheckpointError` naming the architecture when the file has parts
    (LayerScale, registers, SwiGLU, RoPE) that the model cannot represent."""
    found = unrepresentable_features(list(file_keys), list(model_keys))
    if not found:
        return
    parts = "/".join(found)
    families = sorted({family for family, _ in found.values()})
    examples = "; ".join(f"{feature}: {', '.join(keys[:3])}"
                         + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else "")
                         for feature, (_, keys) in found.items())
    raise CheckpointError(
        f"{path}: this file has {parts}: a {' or '.join(families)}, which this config's "
        f"format ({format_name!r}) and model cannot represent ({examples}). The architecture "
        "differs, not only the key layout: dropping these tensors would give another network, "
        "so the file is not loaded, whatever the strictness. No config of this project builds "
        "that family (docs/checkpoints.md lists the supported ones).")
