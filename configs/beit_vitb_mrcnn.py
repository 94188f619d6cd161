"""ViT-B Mask R-CNN fine-tuned from BEiT, 100 epochs.

The paper's BEiT transfer rule (sec. 4): relative position biases are transferred
(resized to the 14x14 windows and to the 64x64 global grid, into the shared
window table and the shared global table), absolute position embeddings start
random (BEiT has none), layer scale is on. Everything else as mae_vitb_mrcnn.py.

| setting      | value | source |
|--------------|-------|--------|
| layer scale  | on (values from the checkpoint; 0.1 before loading) | paper sec. 4; BEiT-B |
| abs pos      | random init (trunc-normal 0.02) | paper sec. 4 |
| rel pos      | shared tables, from the checkpoint | paper sec. 4 |
| init         | beit_base_patch16_224_pt22k.pth | microsoft/unilm (beit) |
"""
from .mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

vit = model.backbone.bottom_up.net
vit.layer_scale_init_value = 0.1
vit.abs_pos_init = "random"
vit.rel_pos = "shared"

train.init_checkpoint = "pretrained/beit_base_patch16_224_pt22k.pth"
train.init_format = "beit"
train.output_dir = "./output/beit_vitb_mrcnn"
train.vitdet_bench = dict(init="beit", model_size="B", epochs=100)
