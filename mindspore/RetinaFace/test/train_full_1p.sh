#!/usr/bin/env bash
# Full single-device training with the reference recipe (ResNet50, 840x840, batch 8, SGD 0.01, dynamic_lr, 100
# epochs), then the reference WIDER FACE evaluation of the last checkpoint.
#   bash test/train_full_1p.sh --data_path=DIR [--device=gpu|npu|cpu] [--backbone=resnet50] [--epochs=100]
#                              [--pretrain_path=res50_pretrain.ckpt] [any train.py flag]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
CKPT_DIR="$OUTPUT_PATH/train_full_1p"
args=(--data_path="$DATA_PATH" --device_target="$DEVICE_TARGET" --backbone="$BACKBONE" --ckpt_path="$CKPT_DIR")
[[ -n "$EPOCHS" ]] && args+=(--epoch="$EPOCHS")
echo "[train_full_1p] logs: $LOG_DIR/train_full_1p.log"
"$PYTHON" train.py "${args[@]}" "${EXTRA_ARGS[@]}" 2>&1 | tee "$LOG_DIR/train_full_1p.log"
CKPT="$(ls -t "$CKPT_DIR"/ckpt_0/RetinaFace-*.ckpt | head -1)"
"$PYTHON" eval.py --data_path="$DATA_PATH" --checkpoint="$CKPT" --device_target="$DEVICE_TARGET" \
  --pred_dir="$OUTPUT_PATH/train_full_1p_pred" --json="$OUTPUT_PATH/train_full_1p_eval.json" \
  2>&1 | tee "$LOG_DIR/train_full_1p_eval.log"
