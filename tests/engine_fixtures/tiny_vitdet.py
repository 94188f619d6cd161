"""configs/vitdet/mask_rcnn_vitdet_b_100ep.py shrunk for CPU tests (released-detector eval).

Same detector (ViT with the pre-training position table and decomposed rel pos, simple
feature pyramid with LN, 2-conv RPN, 4conv1fc LN box head, LN mask head) at 128x128 input:
a 64-d, 4-block ViT (4x4 windows, blocks 1 and 3 global), 64-channel pyramid and heads,
5 shapes classes, evaluated on the first images of shapes_val.
"""
import os

from detectron2.config import LazyCall as L
from detectron2.config import LazyConfig
from detectron2.data import get_detection_dataset_dicts
from detectron2.layers import ShapeSpec

from engine_fixtures.helpers import first_n

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_base = LazyConfig.load(os.path.join(_ROOT, "configs", "vitdet", "mask_rcnn_vitdet_b_100ep.py"))
model, dataloader, optimizer, lr_multiplier, train = (
    _base.model, _base.dataloader, _base.optimizer, _base.lr_multiplier, _base.train)

IMAGE_SIZE = 128
net = model.backbone.net
net.img_size = IMAGE_SIZE
net.embed_dim, net.depth, net.num_heads = 64, 4, 2
net.drop_path_rate = 0.0
net.window_size = 4
net.window_block_indexes = [0, 2]
net.out_block_indexes = [3]
model.backbone.in_feature = "block3"
model.backbone.out_channels = 64
model.backbone.square_pad = IMAGE_SIZE
model.proposal_generator.head.in_channels = 64
model.proposal_generator.anchor_generator.sizes = [[8], [16], [32], [64], [128]]
model.proposal_generator.pre_nms_topk = (500, 300)
model.proposal_generator.post_nms_topk = (200, 100)
model.roi_heads.box_head.input_shape = ShapeSpec(channels=64, height=7, width=7)
model.roi_heads.box_head.conv_dims = [64, 64, 64, 64]
model.roi_heads.box_head.fc_dims = [128]
model.roi_heads.box_predictor.input_shape = ShapeSpec(channels=128)
model.roi_heads.mask_head.input_shape = ShapeSpec(channels=64, height=14, width=14)
model.roi_heads.mask_head.conv_dims = [64, 64, 64, 64, 64]
model.roi_heads.num_classes = 5
model.roi_heads.box_predictor.test_topk_per_image = 20

dataloader.train.dataset.names = "shapes_train"
dataloader.train.mapper.image_size = IMAGE_SIZE
dataloader.train.total_batch_size = 2
dataloader.train.num_workers = 0
dataloader.test.dataset = L(first_n)(
    dicts=L(get_detection_dataset_dicts)(names="shapes_val", filter_empty=False), n=4)
dataloader.test.mapper.image_size = IMAGE_SIZE
dataloader.test.num_workers = 0
dataloader.evaluator.dataset_name = "shapes_val"

optimizer.params.num_layers = 4
train.max_iter = 2
train.amp.enabled = False
train.eval_period = 0
train.device = "cpu"
train.init_checkpoint = ""
train.init_format = "auto"
train.output_dir = "./output/tiny_vitdet"
train.vitdet_bench = dict(init="released", model_size="tiny", epochs=0, recipe="vitdet")
