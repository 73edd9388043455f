#!/usr/bin/env bash
# Data-parallel training throughput: the Ascend 8p recipe on --device_num processes (torchrun + DDP) for 100 steps
# (--steps=N), no val loss; train.py prints the global "Final Performance images/sec : N".
#   bash test/train_performance_8p.sh --data_path=DIR [--device=cpu|gpu|npu] [--device_num=N] [--steps=N] ...
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/model_args.sh"
no_evaluate
launcher
run_logged "${LAUNCH[@]}" "$MODEL_DIR/train.py" --recipe ascend8p --max_steps 100 --no_val "${NEW_RUN[@]}" \
  "${TRAIN_ARGS[@]}"
