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
from .solver import convmae_layer_id, get_convmae_param_groups  # noqa: E402

register()

__all__ = [
    "CONVMAE_SIZES", "DESIGNS", "ConvBlock", "ConvMAE", "ConvPatchEmbed", "build_convmae_backbone",
    "build_convmae_fpn", "design_kwargs", "convert_convmae", "detect_convmae",
    "load_convmae_checkpoint", "register", "convmae_layer_id", "get_convmae_param_groups",
]
