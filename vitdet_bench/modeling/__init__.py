"""Backbones, necks and the modified Mask R-CNN (registered with detectron2 on import)."""
from .backbone import *  # noqa: F401,F403
from .necks import MultiScaleAdaptor, SimpleFeaturePyramid, ViTFPN, build_vit_fpn  # noqa: F401
