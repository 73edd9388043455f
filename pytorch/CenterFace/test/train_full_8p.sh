#!/usr/bin/env bash
# Full data-parallel training with the Ascend 8p recipe (16 images per device, lr 2.5e-3, lr x0.1 after epochs 85
# and 120, 160 epochs): torchrun + DistributedDataParallel on --device_num processes (nccl on gpu, hccl on npu, gloo
# on cpu; all stop when one fails), then the WIDER val evaluation of the last checkpoint on device 0.
#   bash test/train_full_8p.sh --data_path=DIR [--device=cpu|gpu|npu] [--device_num=N] [--output_path=DIR]
#       [--steps=N] [--epochs=N] [--batch_size=N] [--checkpoint=CKPT] [--resume=auto|CKPT] [--KEY=VALUE ...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/model_args.sh"
launcher
run_logged "${LAUNCH[@]}" "$MODEL_DIR/train.py" --recipe ascend8p "${TRAIN_ARGS[@]}"
evaluate
