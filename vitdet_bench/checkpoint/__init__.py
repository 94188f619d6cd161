"""Pre-trained checkpoint loading for the five initializations of Li et al. 2021.

MAE, BEiT, MoCo v3, supervised (DeiT / timm) and random; supervised ImageNet ResNets
for the ResNet baselines (:mod:`.resnet`); see ``docs/checkpoints.md``
for the formats, where each public file comes from, and the paper's transfer rules.

API
---
``load_pretrained(model_or_net, path, format="auto", strict_architecture=True, lenient_option=...) -> LoadReport``
    Loads ``path`` into the first ``ViT`` of ``model_or_net`` (the detector's
    ``backbone.bottom_up.net`` / ``backbone.net``, or a bare ViT). ``format`` is
    ``"auto"`` (detected from the file) or a registered name. ``path`` "" / None
    needs ``format="random"``: the paper's random init (:func:`init_random`).
    Prints the report (``vitdet_bench`` logger if configured, else ``print``) and
    returns it. Every problem raises :class:`CheckpointError` naming the file
    and keys; with ``strict_architecture=False`` a partial overlap is loaded and
    the leftovers are reported (``unexpected`` / ``initialized``) instead.

``register_format(name, detect, convert, find_net=None, whole_detector=False)``
    * ``detect(raw_checkpoint_dict: dict) -> bool`` gets the object ``torch.load``
      returned (wrappers such as ``{'model': ...}`` included) and says whether it is
      this format. Formats are tried newest-registered first.
    * ``convert(state_dict: dict[str, Tensor], net: nn.Module, report: LoadReport)
      -> dict[str, Tensor]`` gets the tensors inside the wrapper (``raw['model']``,
      ``raw['state_dict']``, ``raw['module']`` or ``raw``; prefixes untouched) and
      returns tensors in ``net.state_dict()``'s key space. It appends every key it
      drops to ``report.ignored`` as ``(key, rule)``. It may return tensors whose
      shape differs from the model's only for ``pos_embed`` (as ``(1, h, w, C)``, or
      flat ``(1, P + h*w, C)`` for a ``pos_embed_grid="pretrain"`` ViT),
      ``*relative_position_bias_table`` (square ``(2h-1)^2`` rows) and
      ``patch_embed.proj.weight`` (another patch size): those are resized and reported. Model tensors it does not return are initialized by
      rule (rel-pos tables 0, ``pos_embed`` trunc-normal, layer scale 1, qkv bias 0)
      or, otherwise, are an error under ``strict_architecture``; model tensors the
      converter lists in ``report.initialized`` itself stay at the model's own init.
    * ``find_net(model) -> nn.Module`` (optional): the target network inside a
      detector, for non-``ViT`` backbones (e.g. ConvMAE); default: the first ``ViT``.
    * ``whole_detector=True``: a released detector's format (``find_net`` returns the
      whole model); the frozen-backbone protocol skips it when it looks for the trunk.

``get_format(name)`` / ``formats_newest_first()`` / ``whole_detector_formats()``
    The registry, read-only: :class:`CheckpointFormat` records (name, detect, convert,
    find_net, whole_detector).

Helpers for a family's converter (each family's formats live beside the family, e.g.
``projects/ConvMAE/convmae/checkpoint.py`` and ``released.py``): ``model_state_dict(raw)``
(the tensors, unwrapped, ``module.`` stripped), ``match_rule(key, rules)`` (first matching
``(regex, rule)``), ``pos_embed_to_grid(pos, key, report)`` (flat ``(1, P + h*w, C)`` ->
``(1, h, w, C)``, prefix positions reported), ``group_keys`` (the report's key grouping).

Reading: every file goes through :mod:`.safe_load` (safetensors; ``torch.load(weights_only=True)``
with an explicit allowlist; a restricted unpickler for ``.pkl``; TorchScript refused);
``trust_checkpoint=True`` is the user's opt-in for the full unpickler. ``--eval-only``
weights: :mod:`.evaluation` (whole detector, nothing fresh).

``LoadReport`` (path, format, loaded, resized, initialized, ignored, unexpected, trusted_pickle;
``str()`` is a table, ``to_dict()`` JSON-ready), ``CheckpointError(ValueError)``,
``init_random(net)``.
"""
from .loader import (
    CheckpointFormat,
    apply_state_dict,
    describe_unreadable,
    detect_format,
    format_mismatch,
    find_vit,
    formats_newest_first,
    get_format,
    init_random,
    load_pretrained,
    read_checkpoint,
    read_checkpoint_result,
    register_format,
    registered_formats,
    unwrap_state_dict,
    whole_detector_formats,
)
from .report import CheckpointError, LoadReport, group_keys
from . import formats  # noqa: F401,E402  (registers the built-in formats)
from .formats import ignore_rule, match_rule, model_state_dict, pos_embed_to_grid  # noqa: E402
from . import released  # noqa: F401,E402  (released whole detectors: vitdet_d2; families add theirs)
from . import resnet  # noqa: F401,E402  (registers the ResNet formats: torchvision / detectron2 / Caffe2)
from . import evaluation  # noqa: F401,E402  (a whole detector in our key names: detectron2)
from .safe_load import UnsafeCheckpointError  # noqa: E402
from . import timm_formats  # noqa: F401,E402  (timm families: DINOv2/v3, EVA-02, CLIP, PE, SigLIP 2, AIMv2, DeiT III)

# The file names the five configs point ``train.init_checkpoint`` at (see docs/checkpoints.md).
EXPECTED_FILES = {
    "mae": "mae_pretrain_vit_base.pth",
    "beit": "beit_base_patch16_224_pt22k.pth",
    "mocov3": "vit-b-300ep.pth.tar",
    "supervised": "deit_base_patch16_224-b5f2ef4d.pth",
    "random": "",
}

__all__ = ["LoadReport", "CheckpointError", "register_format", "registered_formats",
           "load_pretrained", "init_random", "read_checkpoint", "unwrap_state_dict",
           "detect_format", "format_mismatch", "describe_unreadable", "find_vit",
           "apply_state_dict", "EXPECTED_FILES", "CheckpointFormat", "get_format",
           "formats_newest_first", "whole_detector_formats", "group_keys", "ignore_rule",
           "match_rule", "model_state_dict", "pos_embed_to_grid",
           "read_checkpoint_result", "UnsafeCheckpointError"]
