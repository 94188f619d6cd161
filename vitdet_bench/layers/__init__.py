"""Building blocks shared by the backbone families."""
from .attention import (
    Attention,
    RelativePositionBias,
    decomposed_rel_pos_bias,
    relative_position_index,
    resize_abs_pos_embed,
    resize_rel_pos_table,
    shifted_window_mask,
    window_partition,
    window_unpartition,
)
from .norm import LayerNorm2d, convert_batchnorm_for_world, get_norm

__all__ = [k for k in globals() if not k.startswith("_")]
