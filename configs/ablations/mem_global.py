"""Memory / time ablation, row "global": all blocks global, no checkpointing.

Li et al. 2021, the memory and time reduction strategies table (ViT-B, MAE init): box AP,
training time per iteration and peak memory side by side. The AP comes from training this
file; time and memory from ``tools/benchmark.py`` on the same config;
``tools/ablation_memory.py`` joins them into the table (docs/ablations.md).
Where the row and its published figure come from: docs/provenance.md.
"""
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.net.attention_strategy = "global"

train.output_dir = "./output/ablations/mem_global"
train.vitdet_bench.ablation = "memory/global"
