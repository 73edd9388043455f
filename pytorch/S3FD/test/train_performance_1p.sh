#!/usr/bin/env bash
# Training throughput on one device: a short run of the reference recipe without validation; prints ModelZoo's
# "Final Performance images/sec : N" (batch / median step time after the first two steps, data loading included).
# Defaults: --steps=100 and the recipe's batch 16 on gpu / npu; --steps=5 and --batch_size=2 on cpu.
#   bash test/train_performance_1p.sh --data_path=WIDER [--device=gpu --device_id=0] [--steps=N] [--batch_size=N]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/s3fd.sh"
one_device "this script runs one device (train_performance_8p.sh runs several)"
if [[ "$DEVICE" == cpu ]]; then STEPS="${STEPS:-5}" BATCH_SIZE="${BATCH_SIZE:-2}"; else STEPS="${STEPS:-100}"; fi
opts=(--data_path="$DATA_PATH" --device="$DEVICE" --device_id="$DEVICE_ID" --output_path="$OUTPUT_PATH" --no_val
      --steps="$STEPS")
add_opts "epochs=$EPOCHS" "batch_size=$BATCH_SIZE" "checkpoint=$CHECKPOINT" "resume=$RESUME"
run_logged "$PYTHON" "$MODEL_DIR/train.py" "${opts[@]}" ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}
