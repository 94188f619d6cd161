"""Ablation (6): model complexity, ViT-B against ResNet-50/101 trained from scratch.

Li et al. 2021, the convergence figure: box AP vs fine-tuning epochs (25 to 400) for ViT-B
and ResNet-50/101 from random initialization in the same Mask R-CNN (ViT-B peaks at about
200 epochs, ResNet-101 at about 400, both at 48.9 box AP). ``collect`` draws the same
figure (``convergence.png``); the complexity table itself (parameters, FLOPs, time,
memory) is ``tools/complexity.py``, measured, not trained.

    python tools/study.py plan studies/complexity_scratch.py
    python tools/study.py launch studies/complexity_scratch.py --executor slurm --partition gpu
    python tools/study.py collect studies/complexity_scratch.py
"""
from vitdet_bench.study import COCO_TRAIN_SIZES, PAPER_RESOURCES, Study, grid

EPOCHS = [25, 50, 100, 200, 400]

study = Study(
    name="complexity_scratch",
    runs=grid("configs/random_vitb_mrcnn.py", axes={"train.epochs": EPOCHS},
              name="vitb_scratch_{train.epochs}ep")
    + grid("configs/resnet/{depth}_mrcnn_scratch.py",
           axes={"depth": ["r50", "r101"], "train.epochs": EPOCHS},
           name="{depth}_scratch_{train.epochs}ep"),
    resources=PAPER_RESOURCES,
    rows=("config",), columns=("train.epochs",),
    dataset_sizes=COCO_TRAIN_SIZES,
)
