"""iTPN / HiViT backbone family for vitdet_bench (see projects/iTPN/README.md)."""
import vitdet_bench  # noqa: F401  (compat patches before detectron2)

from .backbone import (  # noqa: E402
    ITPN,
    ITPN_SIZES,
    PYRAMID_PREFIXES,
    TRUNK_PREFIXES,
    MlpBlock,
    PatchMerge,
    PatchSplit,
    bn_fpn_design,
    resize_ape,
)
from .checkpoint import convert_itpn, detect_itpn, find_itpn, load_itpn_checkpoint, register  # noqa: E402
from .data import build_detr_augmentations, build_detr_train_mapper, build_itpn_test_mapper  # noqa: E402
from .solver import LAYER_ID_SCHEMES, get_itpn_param_groups, itpn_layer_id  # noqa: E402

register()

__all__ = [
    "ITPN", "ITPN_SIZES", "PYRAMID_PREFIXES", "TRUNK_PREFIXES", "MlpBlock", "PatchMerge", "PatchSplit",
    "bn_fpn_design", "resize_ape", "convert_itpn", "detect_itpn", "find_itpn", "load_itpn_checkpoint",
    "register", "build_detr_augmentations", "build_detr_train_mapper", "build_itpn_test_mapper",
    "LAYER_ID_SCHEMES", "get_itpn_param_groups", "itpn_layer_id",
]
