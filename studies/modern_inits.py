"""The Benchmarking table with today's pre-training: DINOv2 (with and without registers),
DINOv3, EVA-02, DeiT III, SigLIP 2, Perception Encoder (spatial), AIMv2 and OpenAI CLIP
next to the paper's five initializations (MAE, BEiT, MoCo v3, supervised, random).

Every run is the recipe of "Benchmarking Detection Transfer Learning with Vision
Transformers" (Li et al. 2021): Mask R-CNN with the multi-scale adaptor and BN FPN on
COCO train2017, evaluated on val2017, at ViT-B and ViT-L, fine-tuned 25, 50 and 100
epochs, on the paper's cluster (8 nodes x 8 GPUs, batch 64), planned exactly as
studies/benchmarking_table.py. The paper's five rows are the same config files and
overrides as that study (configs/{init}_vit{size}_mrcnn.py); each family's row is
configs/families/<family>_vit<size>_mrcnn.py (the trunk and its load rules:
docs/families.md; the published detection numbers of each family: docs/published_detection.md).

Left out: AIMv2 at ViT-B (AIMv2's smallest released model is L, so its row has only
the L columns); the H / g / so400m sizes of DINOv2, DINOv3, DeiT III, SigLIP 2, PE and
AIMv2 (this table is B and L, as the paper's).

    python tools/study.py plan studies/modern_inits.py
    python tools/study.py launch studies/modern_inits.py --executor slurm --partition gpu
    python tools/study.py status studies/modern_inits.py --watch
    python tools/study.py collect studies/modern_inits.py

The five paper rows are the runs of studies/benchmarking_table.py (same configs and
overrides, so the same run folders under the same root): to train them once for both
tables, add ``--root output/studies/benchmarking_table`` to every command (launch skips
what that study finished or queued; give collect its own ``--output``).

The pre-trained files go under pretrained/ (each config's ``train.init_checkpoint``
names its official file); COCO under $DETECTRON2_DATASETS/coco. Relative paths are from
the working directory: run from the repository root.
"""
from vitdet_bench.study import COCO_TRAIN_SIZES, PAPER_RESOURCES, Study, grid

EPOCHS = [25, 50, 100]
# The paper's five initializations (configs/{init}_vit{size}_mrcnn.py).
PAPER_INITIALIZATIONS = ["random", "supervised", "mocov3", "beit", "mae"]
# Families released at both ViT-B and ViT-L (configs/families/<family>_vit{b,l}_mrcnn.py).
FAMILIES_B_AND_L = ["deit3", "clip", "dinov2", "dinov2reg", "dinov3", "eva02", "siglip2",
                    "pe_spatial"]
# Families whose smallest released model is ViT-L.
FAMILIES_L_ONLY = ["aimv2"]

NAME = "{init}_vit{size}_{train.epochs}ep"

study = Study(
    name="modern_inits",
    runs=grid("configs/{init}_vit{size}_mrcnn.py",
              axes={"init": PAPER_INITIALIZATIONS, "size": ["b", "l"], "train.epochs": EPOCHS},
              name=NAME)
    + grid("configs/families/{init}_vit{size}_mrcnn.py",
           axes={"init": FAMILIES_B_AND_L, "size": ["b", "l"], "train.epochs": EPOCHS},
           name=NAME)
    + grid("configs/families/{init}_vit{size}_mrcnn.py",
           axes={"init": FAMILIES_L_ONLY, "size": ["l"], "train.epochs": EPOCHS},
           name=NAME),
    resources=PAPER_RESOURCES,
    rows=("init",), columns=("size", "train.epochs"),
    dataset_sizes=COCO_TRAIN_SIZES,
)
