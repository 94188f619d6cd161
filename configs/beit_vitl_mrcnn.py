"""ViT-L Mask R-CNN fine-tuned from BEiT, 100 epochs (BEiT rules as beit_vitb_mrcnn.py)."""
from ._vitl import make_large
from .beit_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

make_large(model, optimizer)
model.backbone.bottom_up.net.layer_scale_init_value = 1e-5  # BEiT-L's init value
train.init_checkpoint = "pretrained/beit_large_patch16_224_pt22k.pth"
train.output_dir = "./output/beit_vitl_mrcnn"
train.vitdet_bench = dict(init="beit", model_size="L", epochs=100)
