from .token_stage import ATTENTION_STRATEGIES, attention_strategy_layout, quarter_block_indexes
from .vit import VIT_SIZES, Block, PatchEmbed, ViT, build_vit_backbone
from .timm_trunk import TimmTrunk, build_timm_trunk_backbone

__all__ = [k for k in globals() if not k.startswith("_")]
