"""Ablation (1): the FPN input, multi-scale adaptor against single-scale variants.

Li et al. 2021, ViT-B with MAE initialization, 100 fine-tuning epochs (the flagship's
schedule); one run per row of ``configs/ablations/fpn_*.py`` (docs/ablations.md, table 1).
Resources and layout are those of ``studies/benchmarking_table.py``.

    python tools/study.py plan studies/ablation_fpn.py
    python tools/study.py launch studies/ablation_fpn.py --executor slurm --partition gpu
    python tools/study.py collect studies/ablation_fpn.py
"""
from vitdet_bench.study import COCO_TRAIN_SIZES, PAPER_RESOURCES, Study, grid

study = Study(
    name="ablation_fpn",
    runs=grid("configs/ablations/fpn_{fpn_input}.py",
              axes={"fpn_input": ["multiscale_d4_d2_3d4_d", "last_block_x4",
                                  "single_scale_no_adaptor"]},
              name="fpn_{fpn_input}"),
    resources=PAPER_RESOURCES,
    rows=("fpn_input",),
    dataset_sizes=COCO_TRAIN_SIZES,
)
