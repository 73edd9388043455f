#!/usr/bin/env bash
# A short one-device run (default 6 steps) at the config's canvas; prints ModelZoo's
# "Final Performance images/sec : N" (batch / median step time after the first two steps, from train_log.jsonl).
# A fresh run unless --resume.
#   bash test/train_performance_1p.sh --data_path=DIR [--device=cpu|gpu|npu] [--steps=6] [--batch_size=N] [...]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
STEPS="${STEPS:-6}"
source "$MODEL_DIR/test/lib/args.sh"
refuse_option device_num "a one-device run; use train_performance_8p.sh"
refuse_option epochs "a performance run is limited by --steps"
[[ -n "$RESUME" ]] || rm -rf "$OUTPUT_PATH/ckpt_0"
run_logged "$PYTHON" "$MODEL_DIR/train.py" "${TRAIN_ARGS[@]}" --device_id="$DEVICE_ID" --save_checkpoint=False
run_logged "$PYTHON" "$MODEL_DIR/tools/benchmark.py" --performance_from="$OUTPUT_PATH" --devices=1
