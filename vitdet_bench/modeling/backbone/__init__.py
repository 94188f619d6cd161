from .vit import (ATTENTION_STRATEGIES, VIT_SIZES, Block, PatchEmbed, ViT,
                  attention_strategy_layout, build_vit_backbone, quarter_block_indexes)
from .timm_trunk import TimmTrunk, build_timm_trunk_backbone

__all__ = [k for k in globals() if not k.startswith("_")]
