"""Optimizer helpers: layer-wise lr decay param groups (works on detectron2 0.6 and main)."""
from .param_groups import get_layer_id, get_param_groups

__all__ = ["get_param_groups", "get_layer_id"]
