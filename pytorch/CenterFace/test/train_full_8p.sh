#!/usr/bin/env bash
# Full multi-device training (the Ascend 8p recipe: 16 images per device, lr 2.5e-3, lr x0.1 at 85 and 120,
# 160 epochs) with torchrun + DistributedDataParallel, then WIDER val evaluation on device 0.
# --device_list=0,1,...,7 selects the devices; on cpu --nproc=N sets the number of processes (default 2).
source "$(dirname "$0")/common.sh"
$PYTHON -m torch.distributed.run --standalone --nproc_per_node="$nproc" train.py --data_path="$data_path" \
    --device="$device" --output_path="$output_path" --recipe ascend8p ${extra[@]+"${extra[@]}"} \
    2>&1 | tee "$log_dir/train_full_8p.log"
$PYTHON eval.py --checkpoint "$output_path/model_last.pth" --data_path="$data_path" --device="$device" \
    --output_path "$output_path/eval" 2>&1 | tee "$log_dir/eval_full_8p.log"
