#!/usr/bin/env bash
# Full 1-device training with the reference recipe (Adam 1.25e-4, batch 8, 140 epochs, lr x0.1 at 30 and 80),
# then WIDER val evaluation of model_last.pth.
source "$(dirname "$0")/common.sh"
$PYTHON train.py --data_path="$data_path" --device="$device" --output_path="$output_path" --recipe reference \
    ${extra[@]+"${extra[@]}"} 2>&1 | tee "$log_dir/train_full_1p.log"
$PYTHON eval.py --checkpoint "$output_path/model_last.pth" --data_path="$data_path" --device="$device" \
    --output_path "$output_path/eval" 2>&1 | tee "$log_dir/eval_full_1p.log"
