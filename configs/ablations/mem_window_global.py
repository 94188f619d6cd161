"""Memory / time ablation, row "window_global": 14x14 windows, blocks d/4, d/2, 3d/4, d global
(the default).

Li et al. 2021, the memory and time reduction strategies table (ViT-B, MAE init): box AP,
training time per iteration and peak memory side by side. The AP comes from training this
file; time and memory from ``tools/benchmark.py`` on the same config;
``tools/ablation_memory.py`` joins them into the table (docs/ablations.md).
Where the row and its published figure come from: docs/provenance.md.
"""
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.net.attention_strategy = "window_global"

train.output_dir = "./output/ablations/mem_window_global"
train.vitdet_bench.ablation = "memory/window_global"
