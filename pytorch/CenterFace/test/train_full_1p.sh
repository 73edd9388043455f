#!/usr/bin/env bash
# Full training on one device with the reference recipe (Adam 1.25e-4, batch 8, 140 epochs, lr x0.1 after epochs
# 30 and 80), then the WIDER val evaluation of the last checkpoint (OUTPUT_PATH/eval_result.json).
#   bash test/train_full_1p.sh --data_path=DIR [--device=cpu|gpu|npu] [--device_id=N] [--output_path=DIR]
#       [--steps=N] [--epochs=N] [--batch_size=N] [--checkpoint=CKPT] [--resume=auto|CKPT] [--KEY=VALUE ...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/model_args.sh"
one_device
run_logged "$PYTHON" "$MODEL_DIR/train.py" --recipe reference "${TRAIN_ARGS[@]}"
evaluate
