"""ViT-L changes shared by the *_vitl_mrcnn configs (imported by them, not run alone)."""


def make_large(model, optimizer, drop_path_rate=0.4, layer_decay=0.8):
    """ViT-L/16: 1024-d, 24 blocks, 16 heads; global blocks 5/11/17/23 (last of each quarter).

    drop path 0.4 and layer decay 0.8 follow detectron2 projects/ViTDet's ViT-L recipe.
    """
    vit = model.backbone.bottom_up.net
    vit.embed_dim, vit.depth, vit.num_heads = 1024, 24, 16
    vit.drop_path_rate = drop_path_rate
    model.backbone.bottom_up.in_features = ["block5", "block11", "block17", "block23"]
    optimizer.params.layer_decay = layer_decay
    optimizer.params.num_layers = 24
