#!/usr/bin/env bash
# Training throughput on one device: --steps steps (default 20) of the reference recipe (ResNet50, 840x840, batch 8),
# then ModelZoo's "Final Performance images/sec : N" (median step time after the first two steps, which include
# graph compilation). A fresh run unless --resume.
#   bash test/train_performance_1p.sh --data_path=DIR [--device=gpu|npu|cpu] [--device_id=N] [--steps=20]
#        [--batch_size=N] [--output_path=DIR] [--checkpoint=CKPT] [--resume=auto|CKPT] [any train.py flag]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/scripts/env.sh"
source "$MODEL_DIR/test/lib/args.sh"
refuse device_num "train_performance_1p.sh measures one device (data parallel: test/train_performance_8p.sh)"
STEPS="${STEPS:-20}"
build_args
fresh_output
LOG_START="$(stat -c %s "$LOG_FILE" 2>/dev/null || echo 0)"
run_logged "$PYTHON" "$MODEL_DIR/train.py" "${TRAIN_ARGS[@]}"
final_performance "$LOG_FILE" "$LOG_START" | tee -a "$LOG_FILE"
