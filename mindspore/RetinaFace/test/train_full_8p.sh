#!/usr/bin/env bash
# Full 8-device data-parallel training (msrun, batch 8 per device), then evaluation on rank 0's checkpoint.
#   bash test/train_full_8p.sh --data_path=DIR [--device=gpu|npu|cpu] [--device_num=8] [--epochs=100] [train.py flags]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
N="${DEVICE_NUM:-8}"
CKPT_DIR="$OUTPUT_PATH/train_full_8p"
args=(--data_path="$DATA_PATH" --device_target="$DEVICE_TARGET" --backbone="$BACKBONE" --ckpt_path="$CKPT_DIR"
      --is_distributed)
[[ -n "$EPOCHS" ]] && args+=(--epoch="$EPOCHS")
echo "[train_full_8p] $N workers; per-rank logs: $OUTPUT_PATH/msrun_log/worker_*.log"
launch_distributed "$N" train.py "${args[@]}" "${EXTRA_ARGS[@]}" 2>&1 | tee "$LOG_DIR/train_full_8p.log"
CKPT="$(ls -t "$CKPT_DIR"/ckpt_0/RetinaFace-*.ckpt | head -1)"
"$PYTHON" eval.py --data_path="$DATA_PATH" --checkpoint="$CKPT" --device_target="$DEVICE_TARGET" \
  --pred_dir="$OUTPUT_PATH/train_full_8p_pred" --json="$OUTPUT_PATH/train_full_8p_eval.json" \
  2>&1 | tee "$LOG_DIR/train_full_8p_eval.log"
