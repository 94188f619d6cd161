"""Perception Encoder PE-Spatial (Bolya et al. 2025): the sizes of the family configs.

Imported by ``configs/families/pe_spatial_vit*_mrcnn.py`` and
``configs/families/vitdet/mask_rcnn_pe_spatial_*.py``, not run alone; each size is applied
to either recipe by ``_recipes.py``.

| size | timm model (tag)                          | pre-training | blocks | global / taps   | official file (facebook/<name> on Hugging Face) |
|------|-------------------------------------------|--------------|--------|-----------------|--------------------------------------------------|
| b    | vit_pe_spatial_base_patch16_512.fb        | 512, /16     | 12     | 2, 5, 8, 11     | PE-Spatial-B16-512.pt                            |
| l    | vit_pe_spatial_large_patch14_448.fb       | 448, /14     | 24     | 5, 11, 17, 23   | PE-Spatial-L14-448.pt                            |
| g    | vit_pe_spatial_gigantic_patch14_448.fb    | 448, /14     | 50     | 12, 24, 36, 49  | PE-Spatial-G14-448.pt                            |

* Pixel statistics: mean 0.5, std 0.5 on 0-1 pixels (timm ``pretrained_cfg`` of the ``fb``
  tags), i.e. 127.5 / 127.5 on 0-255 inputs (PE's own detection configs round to 127 / 127).
* B and L: a class token, no LayerScale; G: no class token, LayerScale (init 0.1).
  All: 2D RoPE and an absolute position table of the 32x32 pre-training grid.
* Format ``pe`` (the files of facebookresearch/perception_models, ``conv1``,
  ``transformer.resblocks.N`` without a prefix; "auto" recognises them with or without
  LayerScale).
* Recipe values. PE-Spatial-G has a published detection recipe: facebookresearch/perception_models
  ``apps/detection/projects/ViTDet/configs/LVIS/mask_rcnn_PEspatial_G_lvis75ep.py`` (and its
  COCO configs): ViTDet's Mask R-CNN, lr 5e-5, layer decay 0.9 over 50 blocks, drop path 0.5,
  global blocks 12, 24, 36, 49, 75 epochs, weight decay on every parameter; published
  54.2 box / 49.3 mask AP on LVIS (apps/detection README). Those values are used here for
  G; its window size (32, on the 64x64 grid), its decomposed relative positions and its
  tiled position table are not (both recipes here keep the project's 14x14 windows, the
  family's own positions, and a resized table). PE-Spatial-B/L have no published detection
  recipe: ViTDet's MAE values for the size (B: 1e-4 / 0.7 / 0.1; L: 1e-4 / 0.8 / 0.4).
"""
from ._recipes import INCEPTION_PIXEL_MEAN, INCEPTION_PIXEL_STD, MAE_RECIPE, apply_size

SIZES = {
    "b": dict(model_name="vit_pe_spatial_base_patch16_512.fb", depth=12, model_size="B",
              pretrain_img_size=512, checkpoint="PE-Spatial-B16-512.pt", **MAE_RECIPE["B"]),
    "l": dict(model_name="vit_pe_spatial_large_patch14_448.fb", depth=24, model_size="L",
              pretrain_img_size=448, checkpoint="PE-Spatial-L14-448.pt", **MAE_RECIPE["L"]),
    # PE's mask_rcnn_PEspatial_G_lvis75ep.py: global blocks, lr, layer decay, drop path
    "g": dict(model_name="vit_pe_spatial_gigantic_patch14_448.fb", depth=50,
              global_blocks=(12, 24, 36, 49), model_size="g", pretrain_img_size=448,
              checkpoint="PE-Spatial-G14-448.pt", lr=5e-5, layer_decay=0.9, drop_path_rate=0.5),
}
# timm pretrained_cfg of vit_pe_spatial_*.fb: mean 0.5, std 0.5
COMMON = dict(init="pe_spatial", init_format="pe",
              pixel_mean=INCEPTION_PIXEL_MEAN, pixel_std=INCEPTION_PIXEL_STD)


def apply_pe_spatial(size, model, optimizer, train, recipe):
    """PE-Spatial ``size`` ("b", "l", "g") on ``recipe`` ("benchmarking" / "vitdet")."""
    apply_size(dict(COMMON, **SIZES[size]), model, optimizer, train, recipe)
