"""Command-line overrides (``path.key=value``): their keys, their types, and the keys
whose meaning depends on another one (a schedule in epochs; the coupled input sizes)."""
from __future__ import annotations

import ast
import difflib
from typing import Iterable, List, Sequence, Tuple

from omegaconf import DictConfig, ListConfig, OmegaConf

from .errors import ConfigError

__all__ = ["OPTIONAL_KEYS", "parse_value", "type_ok", "check_overrides", "override_keys",
           "check_schedule_overrides", "image_size_entries", "apply_image_size",
           "check_image_size"]

# Optional keys a config may omit but an override may add.
OPTIONAL_KEYS = {"train.epochs", "train.num_train_images", "train.warmup_iters", "train.seed",
                 "train.vitdet_bench", "train.device", "train.eval_period", "train.log_period",
                 "train.channels_last", "train.init_lenient", "train.eval_untrained",
                 "train.grad_accum", "train.init_keep", "train.freeze", "train.freeze.trunk",
                 "train.freeze.pyramid", "train.image_size", "train.loader_workers",
                 "train.trust_checkpoint", "train.eval_allow_fresh",
                 "dataloader.train.repeat_threshold"}


def parse_value(v: str):
    """The value ``LazyConfig.apply_overrides`` will set: hydra's override grammar
    (``null`` is None, ``true``/``false`` are bools), else a Python literal, else the string."""
    try:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        return OverridesParser.create().parse_overrides([f"k={v}"])[0].value()
    except Exception:  # hydra rejects it (or is absent): read it as a Python literal
        pass
    try:
        return ast.literal_eval(v)
    except Exception:  # not a literal either: LazyConfig sets it as a string
        return v


def type_ok(old, new) -> bool:
    if old is None or new is None:
        return True
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) and isinstance(new, bool)
    if isinstance(old, (int, float)):
        if not isinstance(new, (int, float)):
            return False
        return isinstance(old, float) or isinstance(new, int) or float(new).is_integer()
    if isinstance(old, str):
        return isinstance(new, str)
    if isinstance(old, (list, tuple, ListConfig)):
        return isinstance(new, (list, tuple))
    if isinstance(old, (dict, DictConfig)):
        return isinstance(new, dict) or (isinstance(old, DictConfig) and "_target_" in old)
    return True


def check_overrides(cfg, overrides: Sequence[str]) -> None:
    """Raise ConfigError for an unknown key or a wrongly typed value."""
    for ov in overrides:
        if ov.startswith("-"):
            raise ConfigError(f"{ov!r} is a flag, not an override: put flags before the "
                              "key=value overrides.")
        if "=" not in ov:
            raise ConfigError(f"Override {ov!r} is not of the form key=value.")
        key, value = ov.split("=", 1)
        key = key.strip()
        new = parse_value(value)
        node = cfg
        parts = key.split(".")
        for i, p in enumerate(parts):
            prefix = ".".join(parts[:i]) or "<root>"
            if isinstance(node, (DictConfig, dict)):
                if p not in node:
                    if key in OPTIONAL_KEYS:
                        break
                    close = difflib.get_close_matches(p, [str(k) for k in node.keys()], n=3,
                                                      cutoff=0.5)
                    hint = (" Did you mean " + " or ".join(
                        repr(".".join(parts[:i] + [c])) for c in close) + "?") if close else ""
                    raise ConfigError(
                        f"Unknown config key {key!r} in override {ov!r}: {prefix} has no key "
                        f"{p!r}.{hint} Known keys of {prefix}: "
                        f"{', '.join(sorted(str(k) for k in node.keys()))}.")
                node = node[p] if i < len(parts) - 1 else OmegaConf.select(cfg, key)
            elif isinstance(node, (ListConfig, list)):
                if not p.isdigit() or int(p) >= len(node):
                    raise ConfigError(f"Unknown config key {key!r}: {prefix} is a list of length "
                                      f"{len(node)}, {p!r} is not a valid index.")
                node = node[int(p)]
            else:
                raise ConfigError(f"Unknown config key {key!r}: {prefix} is a value "
                                  f"({node!r}), not a group of keys.")
        else:
            if not type_ok(node, new):
                raise ConfigError(
                    f"Wrong type for config key {key!r}: override {ov!r} gives "
                    f"{type(new).__name__} {new!r}, but the config has "
                    f"{type(node).__name__} {node!r}."
                    + (" Overrides use hydra's grammar: write null for None." if value.strip() == "None" else ""))


def override_keys(overrides: Iterable[str]) -> List[str]:
    """The dotted keys the overrides set, in order."""
    return [ov.split("=", 1)[0].strip() for ov in overrides if "=" in ov]


def check_schedule_overrides(cfg, overrides: Sequence[str]) -> None:
    """An override of ``train.max_iter`` must not be silently replaced by an epoch schedule.

    With ``train.epochs`` set, the trainer recomputes max_iter from epochs x images /
    batch, so an asked-for ``train.max_iter=N`` would do nothing: stop and say how to
    get N iterations (run after the overrides are applied).
    """
    train = cfg.get("train", None)
    if train is None or "train.max_iter" not in override_keys(overrides):
        return
    epochs = train.get("epochs", None)
    if epochs is None:
        return
    asked = train.get("max_iter", None)
    given = ("the config sets train.epochs=" if "train.epochs" not in override_keys(overrides)
             else "the overrides also set train.epochs=")
    raise ConfigError(
        f"train.max_iter={asked} would have no effect: {given}{epochs}, and an epoch schedule "
        "wins (max_iter is recomputed as train.epochs x training images / total batch size). "
        f"To train {asked} iterations add train.epochs=null next to train.max_iter={asked}; "
        "to shorten the epoch schedule set train.epochs=E instead of train.max_iter.")


# ----------------------------------------------------------------- coupled input sizes
def image_size_entries(cfg) -> List[Tuple[str, int]]:
    """``(dotted key, value)`` of every integer that must equal the input size: the data
    mappers' ``image_size`` (resize / crop), the model's ``square_pad`` (padding; 0 is
    none) and its backbones' ``img_size`` (position tables sized for it)."""
    from .checks import config_entries

    wanted = {"dataloader": ("image_size",), "model": ("square_pad", "img_size")}
    out: List[Tuple[str, int]] = []
    for top, names in wanted.items():
        if top in cfg:
            out += [(key, v) for key, v in config_entries(cfg[top], names, top, _is_int)
                    if not (key.endswith(".square_pad") and v == 0)]  # 0: no padding
    return out


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def apply_image_size(cfg) -> None:
    """``train.image_size=N`` sets every coupled size (:func:`image_size_entries`) to N."""
    train = cfg.get("train", None)
    size = train.get("image_size", None) if train is not None else None
    if size is None:
        return
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(f"train.image_size={size!r}: expected a positive number of pixels "
                          "(e.g. train.image_size=512), or null to keep the config's sizes.")
    entries = image_size_entries(cfg)
    if not entries:
        raise ConfigError(
            f"train.image_size={size} has nothing to set: this config has no "
            "dataloader.*.mapper.image_size, model square_pad or backbone img_size.")
    for key, _ in entries:
        OmegaConf.update(cfg, key, size, merge=False)


def check_image_size(cfg) -> None:
    """The coupled sizes agree; else one paragraph naming each and the override that
    sets them together."""
    entries = image_size_entries(cfg)
    if len({v for _, v in entries}) <= 1:
        return
    mappers = [v for k, v in entries if k.startswith("dataloader.train")] or \
              [v for k, v in entries if k.startswith("dataloader")] or [entries[0][1]]
    raise ConfigError(
        "The input size is set in coupled places that disagree: "
        + ", ".join(f"{k}={v}" for k, v in entries)
        + ". The mappers resize / crop images to image_size, the model pads them to a "
        "square_pad square and the ViT's position tables are sized for img_size, so all must "
        "be equal (a mismatch silently pads or interpolates, at the larger size's cost). To run "
        f"at another size set them together with one override: train.image_size={mappers[0]}.")
