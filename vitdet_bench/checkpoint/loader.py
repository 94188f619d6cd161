"""Reading a checkpoint file, the format registry, and fitting tensors into a ViT."""
from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers.attention import resize_abs_pos_embed, resize_rel_pos_table
from .report import CheckpointError, LoadReport
from .safe_load import TRUST_OPTION, read_file

__all__ = ["CheckpointFormat", "register_format", "registered_formats", "get_format", "formats_newest_first",
           "whole_detector_formats", "read_checkpoint", "read_checkpoint_result", "unwrap_state_dict",
           "detect_format", "format_mismatch", "describe_unreadable", "load_pretrained",
           "find_vit", "init_random", "apply_state_dict"]

# How the caller turns strictness off; named in the errors ("pass ... to load the
# overlap"). Tools pass their own spelling (--lenient, train.init_lenient=True).
PYTHON_LENIENT_OPTION = "strict_architecture=False"

logger = logging.getLogger("vitdet_bench")


# ---------------------------------------------------------------- the registry
@dataclass(frozen=True)
class CheckpointFormat:
    """One registered checkpoint format (see :func:`register_format`)."""

    name: str
    detect: Optional[Callable[[dict], bool]]
    convert: Optional[Callable[[Dict[str, torch.Tensor], nn.Module, LoadReport], Dict[str, torch.Tensor]]]
    find_net: Optional[Callable[[nn.Module], Optional[nn.Module]]] = None
    whole_detector: bool = False  # a released detector: find_net returns the whole model


_FORMATS: Dict[str, CheckpointFormat] = {}


def register_format(name: str, detect, convert, find_net=None, whole_detector: bool = False) -> None:
    """Register (or replace) a checkpoint format; see the package docstring for the contract.

    ``detect(raw_checkpoint_dict) -> bool``; ``convert(state_dict, net, report) ->
    dict[str, Tensor]`` in ``net``'s key space; optional ``find_net(model) -> module``
    locates the target network inside a detector (default: the first ``ViT``);
    ``whole_detector=True`` marks a released detector's format, whose target is the
    whole model (the frozen-backbone protocol then looks for the trunk elsewhere).
    Auto-detection tries formats newest-registered first, so a project's format
    wins over the built-in generic ones.
    """
    if not name or not isinstance(name, str):
        raise ValueError("format name must be a non-empty string")
    _FORMATS.pop(name, None)
    _FORMATS[name] = CheckpointFormat(name, detect, convert, find_net, whole_detector)


def registered_formats() -> List[str]:
    """Names of the registered formats, oldest first."""
    return list(_FORMATS)


def get_format(name: str) -> Optional[CheckpointFormat]:
    """The registered format called ``name``, or None."""
    return _FORMATS.get(name)


def formats_newest_first() -> List[CheckpointFormat]:
    """Every registered format in the order auto-detection tries them (newest first)."""
    return list(reversed(list(_FORMATS.values())))


def whole_detector_formats() -> List[str]:
    """Names of the registered released-detector formats (``whole_detector=True``)."""
    return [f.name for f in _FORMATS.values() if f.whole_detector]


# ------------------------------------------------------------------- reading
def describe_unreadable(path: str, exc: BaseException) -> str:
    """Why ``torch.load`` could not read ``path``, in terms of what the file is.

    torch's own errors are about its unpickler (a text file gives ``KeyError: 101``,
    the byte 'e'); the file's first bytes say more: a damaged zip archive (torch.save's
    format) or pickle is truncated or corrupt; anything else is not a checkpoint.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(64)
        size = os.path.getsize(path)
    except OSError as e:
        return f"{path}: cannot be read ({type(e).__name__}: {e})"
    if not head:
        return f"{path}: truncated or not a PyTorch checkpoint: the file is empty"
    if head.startswith(b"PK\x03\x04"):
        what = (f"a zip archive (torch.save's format) of {size} bytes that is truncated or "
                f"damaged ({type(exc).__name__}: {exc})")
    elif head[:1] == b"\x80":
        what = (f"a pickle (legacy torch.save format) of {size} bytes that is truncated or "
                f"damaged ({type(exc).__name__}: {exc})")
    else:
        text = head.decode("utf-8", errors="replace")
        printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text) / max(1, len(text))
        kind = "a text file" if printable > 0.9 else "neither a zip archive nor a pickle"
        what = f"{kind} of {size} bytes, starting with {head[:24]!r}"
    return (f"{path}: truncated or not a PyTorch checkpoint: it is {what}. Expected a file "
            "written by torch.save (.pth / .pth.tar / .pkl) or a .safetensors file.")


def read_checkpoint_result(path, trust: bool = False, trust_option: str = TRUST_OPTION):
    """Read a checkpoint file safely (:func:`.safe_load.read_file`) into a dict; numpy
    arrays of a ``.pkl`` become tensors. Returns the :class:`.safe_load.ReadResult`
    (``obj``, ``trusted_pickle``); raises :class:`CheckpointError` on anything else."""
    path = os.fspath(path)
    result = read_file(path, trust=trust, trust_option=trust_option)
    obj = result.obj
    if not isinstance(obj, dict):
        kind = "pickled dict" if path.endswith(".pkl") else "dict checkpoint"
        raise CheckpointError(f"{path}: expected a {kind}, got {type(obj).__name__}")
    if path.endswith(".pkl"):
        # detectron2's .pkl checkpoints: a pickled dict of numpy arrays, either
        # {'model': {...}, '__author__': ...} (tools/convert-torchvision-to-d2.py, the model
        # zoo) or Caffe2 blobs ({'blobs': {...}} or bare), read as detectron2 reads them
        obj = _tensors_from_numpy(obj)
        for wrapper in ("model", "blobs"):
            if isinstance(obj.get(wrapper), dict):
                obj[wrapper] = _tensors_from_numpy(obj[wrapper])
    result.obj = obj
    return result


def read_checkpoint(path, trust: bool = False, trust_option: str = TRUST_OPTION) -> dict:
    """Load a checkpoint file into a dict without running code from it (``trust``: the
    user's opt-in for the full unpickler); :class:`CheckpointError` on anything else."""
    return read_checkpoint_result(path, trust=trust, trust_option=trust_option).obj


def _tensors_from_numpy(d: dict) -> dict:
    import numpy as np

    # np.array copies (pickled arrays may be read-only) and keeps 0-d shapes
    return {k: torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v
            for k, v in d.items()}


def unwrap_state_dict(raw: dict, path: str = "") -> Dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint: ``raw['model']``, ``raw['state_dict']``,
    ``raw['module']``, ``raw['blobs']`` (Caffe2) or ``raw`` itself; key prefixes are left for the format to strip."""
    for wrapper in ("model", "state_dict", "module", "blobs"):
        inner = raw.get(wrapper)
        if isinstance(inner, dict) and any(torch.is_tensor(v) for v in inner.values()):
            return {k: v for k, v in inner.items() if torch.is_tensor(v)}
    tensors = {k: v for k, v in raw.items() if torch.is_tensor(v)}
    if not tensors:
        raise CheckpointError(
            f"{path}: no tensors found (top-level keys: {sorted(map(str, raw))[:10]}); "
            "not a model checkpoint")
    return tensors


def detect_format(raw: dict, path: str = "") -> str:
    for fmt in reversed(list(_FORMATS.values())):
        if _detects(fmt, raw):
            return fmt.name
    try:
        keys = sorted(unwrap_state_dict(raw, path))
    except CheckpointError:
        keys = sorted(map(str, raw))
    raise CheckpointError(
        f"{path}: unknown checkpoint layout (no registered format among "
        f"{[n for n in _FORMATS if _FORMATS[n].detect]} recognises it); first keys: {keys[:8]}. "
        "Force one with format=... (train.init_format).")


def _detects(fmt: CheckpointFormat, raw: dict) -> bool:
    if fmt.detect is None:
        return False
    try:
        return bool(fmt.detect(raw))
    except Exception:  # noqa: BLE001  a project's detector must not break the others
        logger.debug("format %s: detect() raised", fmt.name, exc_info=True)
        return False


def format_mismatch(raw: dict, forced: str) -> Optional[str]:
    """The format ``raw`` is detected as when it does not look like ``forced``, else None.

    A file looks like ``forced`` when that format's own ``detect`` accepts it (so a
    plain timm file forced as "supervised" is fine, though detection would say "mae");
    a file no format recognises has no opinion against the forced one.
    """
    fmt = _FORMATS.get(forced)
    if fmt is None or fmt.detect is None or _detects(fmt, raw):
        return None
    for other in reversed(list(_FORMATS.values())):
        if other.name != forced and _detects(other, raw):
            return other.name
    return None


# ------------------------------------------------------------ finding the net
def find_vit(model: nn.Module) -> nn.Module:
    """The first ``ViT`` in ``model`` (``model`` itself, ``backbone.bottom_up.net``, ``backbone.net`` ...)."""
    from ..modeling.backbone.vit import ViT

    for m in model.modules():
        if isinstance(m, ViT):
            return m
    raise CheckpointError(f"no ViT module found in {type(model).__name__}")


# ---------------------------------------------------------------- fresh inits
def _is_rel_table(key: str) -> bool:
    return key.endswith("relative_position_bias_table") or key.endswith(("rel_pos_h", "rel_pos_w"))


_FRESH_RULES = (
    (lambda k: k.endswith("num_batches_tracked"), "zeros (BatchNorm step counter; unused with momentum)",
     lambda t: t.zero_()),
    # Caffe2 ResNets (MSRA R-50.pkl) fold BN statistics into scale and bias: starting at
    # mean 0 / variance 1 - eps (detectron2's FrozenBatchNorm2d) the BN is exactly x * s + b.
    (lambda k: k.endswith("norm.running_mean"), "zeros (file has no BN statistics: folded into s, b)",
     lambda t: t.zero_()),
    (lambda k: k.endswith("norm.running_var"), "1 - eps, eps=1e-5 (file has no BN statistics: folded into s, b)",
     lambda t: t.fill_(1.0 - 1e-5)),
    (_is_rel_table, "zeros (paper: relative position biases start at zero unless BEiT's are transferred)",
     lambda t: t.zero_()),
    (lambda k: k == "pos_embed", "trunc_normal(std=0.02) (paper: random absolute embedding for BEiT)",
     lambda t: nn.init.trunc_normal_(t, std=0.02)),
    (lambda k: k.endswith(("gamma_1", "gamma_2")),
     "ones (checkpoint has no layer scale; identity keeps the pre-trained function)",
     lambda t: t.fill_(1.0)),
    (lambda k: k.endswith("attn.qkv.bias"), "zeros (checkpoint has no qkv bias)", lambda t: t.zero_()),
)


def init_random(net: nn.Module, report: Optional[LoadReport] = None) -> LoadReport:
    """The random initialization of the paper's "random" baseline.

    Follows the MAE / MoCo v3 ViT initialization that the paper's random baseline
    trains from: ``xavier_uniform`` for every Linear weight and for the patch
    projection viewed as a matrix ``(C, 3*16*16)``, zero biases, LayerNorm weight 1 /
    bias 0, absolute position embedding ``trunc_normal(std=0.02)``, relative
    position tables zero, layer scale (if any) at the model's init value.
    """
    report = report if report is not None else LoadReport(path="", format="random")
    names = {id(m): n for n, m in net.named_modules()}
    with torch.no_grad():
        for m in net.modules():
            pre = names[id(m)] + "." if names[id(m)] else ""
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                report.initialized.append((pre + "weight", "xavier_uniform"))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
                    report.initialized.append((pre + "bias", "zeros"))
            elif isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight.view(m.weight.shape[0], -1))
                report.initialized.append((pre + "weight", "xavier_uniform (as a C x 3*p*p matrix)"))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
                    report.initialized.append((pre + "bias", "zeros"))
            elif isinstance(m, (nn.LayerNorm, nn.GroupNorm)) and m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
                report.initialized.append((pre + "weight", "ones"))
                report.initialized.append((pre + "bias", "zeros"))
        for key, p in net.named_parameters():
            if key == "pos_embed" or key.endswith(".pos_embed"):
                nn.init.trunc_normal_(p, std=0.02)
                report.initialized.append((key, "trunc_normal(std=0.02)"))
            elif _is_rel_table(key):
                p.zero_()
                report.initialized.append((key, "zeros"))
            elif key.endswith(("gamma_1", "gamma_2")):
                report.initialized.append((key, f"constant {float(p.flatten()[0]):g} (layer_scale_init_value)"))
    return report


# ------------------------------------------------------------ fitting tensors
def _square_side(rows: int) -> Optional[int]:
    side = math.isqrt(rows)
    if side * side != rows or side % 2 == 0:
        return None
    return (side + 1) // 2


def _flat_pos_layout(n: int):
    """``(prefix slots, grid side)`` of a flat ``(1, P + s*s, C)`` table, or None."""
    side = math.isqrt(n)
    prefix = n - side * side
    return (prefix, side) if side and prefix <= 4 else None


def _fit_flat_pos_embed(value: torch.Tensor, target: torch.Tensor):
    """Fit a grid ``(1, h, w, C)`` or flat ``(1, P' + h*w, C)`` embedding into the flat
    ``(1, P + s*s, C)`` pre-training table of ``ViT(pos_embed_grid="pretrain")``.

    The grid part is resized bicubically; prefix slots (class token, unused by the
    forward) keep the checkpoint's values where it has as many, else start at zero.
    """
    layout = _flat_pos_layout(target.shape[1])
    if layout is None:
        return None
    prefix, side = layout
    kept = None
    if value.dim() == 3:
        src = _flat_pos_layout(value.shape[1])
        if src is None:
            return None
        if src[0] == prefix:
            kept = value[:, :prefix]
        value = value[:, src[0]:].reshape(1, src[1], src[1], value.shape[-1])
    elif value.dim() != 4:
        return None
    grid = resize_abs_pos_embed(value.float(), (side, side)).reshape(1, side * side, -1)
    if kept is None:
        kept = grid.new_zeros(1, prefix, grid.shape[-1])
    return torch.cat([kept.to(grid.dtype), grid], dim=1).to(target.dtype)


def _report_flat_pos_embed(key: str, value: torch.Tensor, fitted: torch.Tensor,
                           report: LoadReport) -> None:
    """Report a fit into the pre-training table: "resized" only where the grid was
    interpolated (a reshape to upstream's flat layout is not a resize), and the
    class-token slot where it was not taken from the checkpoint."""
    prefix, side = _flat_pos_layout(fitted.shape[1])
    if value.dim() == 4:
        src_prefix, src_side = None, value.shape[1]
    else:
        src_prefix, src_side = _flat_pos_layout(value.shape[1])
    if src_side != side:
        report.resized.append((key, tuple(value.shape), tuple(fitted.shape)))
    if prefix and src_prefix != prefix:
        report.initialized.append((f"{key}[:, :{prefix}]", "zeros: class-token slot of the "
                                   "pre-training table (never read by the forward)"))


def _is_abs_pos(key: str) -> bool:
    return key == "pos_embed" or key.endswith(".pos_embed")


def _as_patterns(keep_init) -> List[str]:
    if not keep_init:
        return []
    if isinstance(keep_init, str):
        keep_init = [keep_init]
    out = []
    for p in keep_init:
        try:
            re.compile(p)
        except (re.error, TypeError) as e:
            raise CheckpointError(
                f"keep_init pattern {p!r} (train.init_keep) is not a regular expression ({e}); "
                "expected e.g. '^pos_embed$' or 'relative_position_bias_table$'") from e
        out.append(p)
    return out


def _fit(key: str, value: torch.Tensor, target: torch.Tensor):
    """Return ``value`` resized to ``target``'s shape, or None if it cannot be."""
    if tuple(value.shape) == tuple(target.shape):
        return value
    if key == "pos_embed" or key.endswith(".pos_embed"):
        if target.dim() == 3 and value.shape[-1] == target.shape[-1]:
            return _fit_flat_pos_embed(value, target)
        if value.dim() == 4 and target.dim() == 4 and value.shape[-1] == target.shape[-1]:
            return resize_abs_pos_embed(value.float(), tuple(target.shape[1:3])).to(target.dtype)
        return None
    if key.endswith("patch_embed.proj.weight"):
        # MAE's ViT-H is patch 14, ViTDet's patch 16: the kernel is resampled bicubically,
        # as upstream's mae_pretrain_vit_huge_p14to16.pth was made.
        if value.dim() == 4 and target.dim() == 4 and value.shape[:2] == target.shape[:2]:
            return F.interpolate(value.float(), size=tuple(target.shape[2:]), mode="bicubic",
                                 align_corners=False).to(target.dtype)
        return None
    if key.endswith("relative_position_bias_table"):
        if value.dim() == 2 and value.shape[1] == target.shape[1]:
            src, dst = _square_side(value.shape[0]), _square_side(target.shape[0])
            if src and dst:
                return resize_rel_pos_table(value.float(), (src, src), (dst, dst)).to(target.dtype)
        return None
    return None


def apply_state_dict(net: nn.Module, converted: Dict[str, torch.Tensor], report: LoadReport,
                     strict_architecture: bool = True,
                     lenient_option: str = PYTHON_LENIENT_OPTION,
                     keep_init: Sequence[str] = ()) -> LoadReport:
    """Copy ``converted`` (net key space) into ``net``: resize what the rules allow, init
    the rest fresh by rule, and fail loudly on anything else.

    ``keep_init``: regular expressions (``re.search``) over the model's keys whose tensors
    keep the model's own initialization: neither the file's values nor the fresh rules
    touch them (the positional-information ablations: ``"^pos_embed$"`` with the ViT's
    ``abs_pos_init``, ``"relative_position_bias_table$"`` with its ``rel_pos_init``).
    """
    path = report.path
    target = net.state_dict()
    final: Dict[str, torch.Tensor] = {}
    bad_shape = []
    patterns = [(p, re.compile(p)) for p in _as_patterns(keep_init)]
    for key, value in converted.items():
        hit = next((p for p, rx in patterns if rx.search(key)), None)
        if hit is not None:
            report.ignored.append((key, f"not transferred: the model keeps its own init (keep_init {hit!r})"))
            continue
        if key not in target:
            if _is_abs_pos(key) or _is_rel_table(key):
                report.ignored.append((key, "the model has no such position table "
                                            "(use_abs_pos=False / rel_pos=None)"))
            else:
                report.unexpected.append(key)
            continue
        fitted = _fit(key, value, target[key])
        if fitted is None:
            bad_shape.append(f"{key}: checkpoint {tuple(value.shape)} vs model {tuple(target[key].shape)}")
            continue
        if fitted is not value:
            if fitted.dim() == 3 and key.endswith("pos_embed"):
                _report_flat_pos_embed(key, value, fitted, report)
            else:
                report.resized.append((key, tuple(value.shape), tuple(fitted.shape)))
        final[key] = fitted.to(target[key].dtype)
    if bad_shape:
        raise CheckpointError(
            f"{path}: checkpoint of another architecture; shapes that cannot be resized: "
            + "; ".join(bad_shape[:10]) + (f" (+{len(bad_shape) - 10} more)" if len(bad_shape) > 10 else ""))
    if not final:
        raise CheckpointError(
            f"{path}: checkpoint of another architecture ({report.format}): none of its tensors "
            f"matches the model; checkpoint keys {sorted(converted)[:8]}, model keys {sorted(target)[:8]}")
    # A converter may leave model tensors at the model's own init on purpose, by listing
    # them in report.initialized before this call (e.g. a pyramid the user asked to be random).
    declared = {k for k, _ in report.initialized}
    missing = [k for k in target if k not in final and k not in declared]
    fresh = []
    kept = []
    unhandled = []
    for key in missing:
        hit = next((p for p, rx in patterns if rx.search(key)), None)
        if hit is not None:
            kept.append((key, f"the model's own init, kept (keep_init {hit!r})"))
            continue
        for match, how, fn in _FRESH_RULES:
            if match(key):
                fresh.append((key, how, fn))
                break
        else:
            unhandled.append(key)
    if strict_architecture and (report.unexpected or unhandled):
        raise CheckpointError(
            f"{path}: checkpoint ({report.format}) does not fit the model: "
            + (f"model tensors missing from it: {unhandled[:10]}; " if unhandled else "")
            + (f"checkpoint tensors with no place in the model: {report.unexpected[:10]}; "
               if report.unexpected else "")
            + f"pass {lenient_option} to load the overlap (reported).")
    params = dict(net.named_parameters())
    params.update(dict(net.named_buffers()))
    with torch.no_grad():
        for key, value in final.items():
            params[key].copy_(value)
            report.loaded.append(key)
        for key, how, fn in fresh:
            fn(params[key])
            report.initialized.append((key, how))
    report.initialized.extend(kept)
    for key in unhandled:
        report.initialized.append((key, "model's own init (missing from checkpoint)"))
    return report


# ------------------------------------------------------------------- loading
def _check_representable(raw: dict, path: str, model: nn.Module, fmt_name: str) -> None:
    """A file with parts no format places (LayerScale, registers ...) is named as such."""
    from .architecture import check_representable, unrepresentable_features

    try:
        file_keys = list(unwrap_state_dict(raw, path))
    except CheckpointError:
        return  # no tensors: the format detection says what the file is
    model_keys = list(model.state_dict())
    if not unrepresentable_features(file_keys, model_keys):
        return
    if fmt_name == "auto":
        try:
            fmt_name = detect_format(raw, path)
        except CheckpointError:
            fmt_name = "auto: no format recognises it"
    fmt = _FORMATS.get(fmt_name)
    if fmt is not None and fmt.find_net is not None:
        # A family format whose own network is in the model (e.g. a timm family into a
        # TimmTrunk) places these parts itself and accounts for every tensor strictly.
        try:
            fmt.find_net(model)
            return
        except CheckpointError:
            pass
    check_representable(path, file_keys, model_keys, fmt_name)


def _emit(report: LoadReport) -> None:
    text = str(report)
    if logging.getLogger("vitdet_bench").hasHandlers():
        logger.info("\n%s", text)
    else:
        print(text)


def load_pretrained(model_or_net: nn.Module, path, format: str = "auto",
                    strict_architecture: bool = True,
                    lenient_option: str = PYTHON_LENIENT_OPTION,
                    keep_init: Sequence[str] = (),
                    trust_checkpoint: bool = False,
                    trust_option: str = TRUST_OPTION) -> LoadReport:
    """Load a pre-trained checkpoint into the ViT of ``model_or_net`` by the paper's rules.

    ``path`` "" / None with ``format="random"`` applies :func:`init_random`. ``keep_init``:
    regexes over the model's keys that keep the model's own init (see
    :func:`apply_state_dict`; ``train.init_keep``). Returns the :class:`LoadReport`
    and prints it. Raises :class:`CheckpointError`.

    A forced ``format`` the file does not look like (:func:`format_mismatch`: e.g. an
    MAE file with the BEiT config) is an error naming the detected format; with
    ``strict_architecture=False`` it is loaded as forced and the report says so.
    ``lenient_option`` is how the caller's user turns strictness off (named in errors).
    The file is read without running code from it (:mod:`.safe_load`); ``trust_checkpoint``
    is the user's opt-in for the full unpickler (``trust_option`` names it in the refusal;
    the report then says ``trusted_pickle``). A file with parts the model cannot represent
    (LayerScale, registers, SwiGLU, RoPE: :mod:`.architecture`) is an error whatever the
    strictness.
    """
    fmt_name = (format or "auto").lower()
    if not path:
        if fmt_name != "random":
            raise CheckpointError(
                "no checkpoint path given; the random initialization must be selected explicitly "
                "(format='random', i.e. train.init_format='random')")
        net = find_vit(model_or_net)
        report = init_random(net, LoadReport(path="", format="random"))
        _emit(report)
        return report
    path = os.fspath(path)
    if fmt_name == "random":
        raise CheckpointError(f"format='random' takes no checkpoint, got {path!r}")
    read = read_checkpoint_result(path, trust=trust_checkpoint, trust_option=trust_option)
    raw = read.obj
    _check_representable(raw, path, model_or_net, fmt_name)
    notes = []
    if fmt_name == "auto":
        fmt_name = detect_format(raw, path)
    elif fmt_name not in _FORMATS:
        raise CheckpointError(f"{path}: unknown format {format!r}; registered: {registered_formats()}")
    else:
        detected = format_mismatch(raw, fmt_name)
        if detected:
            what = (f"this file looks like {detected!r} (detected from its keys), but format "
                    f"{fmt_name!r} was asked for (train.init_format / --format)")
            if strict_architecture:
                raise CheckpointError(
                    f"{path}: {what}; loading it as {fmt_name!r} would apply the {fmt_name} "
                    f"transfer rules to {detected} weights. Use the {detected} config or "
                    f"train.init_format={detected} (or 'auto'), or pass {lenient_option} to "
                    f"load it as {fmt_name!r} anyway.")
            notes.append(f"{what}; loaded as {fmt_name!r} because strictness is off")
    fmt = _FORMATS[fmt_name]
    net = None
    if fmt.find_net is not None:
        try:
            net = fmt.find_net(model_or_net)
        except CheckpointError as e:  # the format's network is not in this model
            raise CheckpointError(f"{path}: {e}") from None
    if net is None:
        net = find_vit(model_or_net)
    report = LoadReport(path=path, format=fmt_name, notes=notes, trusted_pickle=read.trusted_pickle)
    state_dict = unwrap_state_dict(raw, path)
    converted = fmt.convert(state_dict, net, report)
    apply_state_dict(net, converted, report, strict_architecture=strict_architecture,
                     lenient_option=lenient_option, keep_init=keep_init)
    _emit(report)
    return report
