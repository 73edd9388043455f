#!/usr/bin/env bash
# CI smoke: 6 training steps (--steps=N) at 256x256, batch 4 (--batch_size=N), lr 1e-3, no val loss, then the WIDER
# evaluation of the result at the 256 letterbox it was trained at; OUTPUT_PATH/smoke_result.json from the run files.
#   bash test/train_smoke.sh --data_path=DIR [--device=cpu|gpu|npu] [--device_id=N] [--output_path=DIR] ...
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/model_args.sh"
one_device
# on a shared, busy CPU one OpenMP thread per process is faster than two (see README, Benchmarks)
if [[ "$DEVICE" == cpu ]]; then export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"; fi
run_logged "$PYTHON" "$MODEL_DIR/train.py" --input_size 256 --batch_size 4 --max_steps 6 --lr 1e-3 --num_workers 2 \
  --no_val "${NEW_RUN[@]}" "${TRAIN_ARGS[@]}"
evaluate
run_logged "$PYTHON" "$REPO_ROOT/ci/smoke.py" --summarize "$OUTPUT_PATH"
