"""ConvMAE backbone family for vitdet_bench (see projects/ConvMAE/README.md)."""
import vitdet_bench  # noqa: F401  (compat patches before detectron2)

from .backbone import (  # noqa: E402
    CONVMAE_SIZES,
    DESIGNS,
    ConvBlock,
    ConvMAE,
    ConvPatchEmbed,
    build_convmae_backbone,
    build_convmae_fpn,
    design_kwargs,
)
from .checkpoint import (  # noqa: E402
    convert_convmae,
    detect_convmae,
    load_convmae_checkpoint,
    register,
)
from .released import CONVMAE_DET, convert_convmae_det, detect_convmae_det, register_released  # noqa: E402
from .solver import convmae_layer_id, get_convmae_param_groups  # noqa: E402

register()
register_released()

__all__ = [
    "CONVMAE_SIZES", "DESIGNS", "ConvBlock", "ConvMAE", "ConvPatchEmbed", "build_convmae_backbone",
    "build_convmae_fpn", "design_kwargs", "convert_convmae", "detect_convmae",
    "load_convmae_checkpoint", "register", "convmae_layer_id", "get_convmae_param_groups",
    "CONVMAE_DET", "convert_convmae_det", "detect_convmae_det", "register_released",
]
