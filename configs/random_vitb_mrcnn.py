"""ViT-B Mask R-CNN from random initialization: the paper's longer schedule.

Without pre-training the paper trains much longer (up to 400 epochs) before the
AP saturates; layer-wise lr decay is pointless without pre-trained layers.

| setting      | value | source |
|--------------|-------|--------|
| init         | random (no file; the loader's random scheme) | paper sec. 4 |
| epochs       | 400   | paper sec. 4 (random init needs the longest schedule) |
| lr           | 1.6e-4 | this project's choice (2x the pre-trained recipes; no layer decay); re-tune |
| layer decay  | 1.0 (off) | no pre-trained layers to protect |
| abs pos      | random; rel pos zero | paper sec. 4 |
"""
from .mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

optimizer.lr = 1.6e-4
optimizer.params.layer_decay = 1.0
train.epochs = 400
train.init_checkpoint = ""
train.init_format = "random"
train.output_dir = "./output/random_vitb_mrcnn"
train.vitdet_bench = dict(init="random", model_size="B", epochs=400)
