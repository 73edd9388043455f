#!/usr/bin/env bash
# Training throughput on one device: the reference recipe for 100 steps (--steps=N), no val loss; train.py prints
# "Final Performance images/sec : N" (median step time after the first two steps).
#   bash test/train_performance_1p.sh --data_path=DIR [--device=cpu|gpu|npu] [--device_id=N] [--steps=N] ...
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/model_args.sh"
no_evaluate
one_device
run_logged "$PYTHON" "$MODEL_DIR/train.py" --recipe reference --max_steps 100 --no_val "${NEW_RUN[@]}" \
  "${TRAIN_ARGS[@]}"
