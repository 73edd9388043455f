#!/usr/bin/env bash
# Smoke run: --steps (default 4) ResNet50 training steps at 160x160, batch 2, on the mini set; the WIDER evaluation of
# the last checkpoint at a reduced size (short side 320, canvas 480; --target_size= / --max_size= change it); then
# ci/smoke.py --summarize writes OUTPUT_PATH/smoke_result.json. A fresh run unless --resume.
#   bash test/train_smoke.sh --data_path=DIR [--device=cpu|gpu|npu] [--device_id=N] [--output_path=DIR] [--steps=4]
#        [--epochs=N] [--batch_size=2] [--checkpoint=CKPT] [--resume=auto|CKPT] [--backbone=mobilenet0.25]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/scripts/env.sh"
source "$MODEL_DIR/test/lib/args.sh"
refuse device_num "train_smoke.sh trains on one device"
STEPS="${STEPS:-4}" BATCH_SIZE="${BATCH_SIZE:-2}"
EXTRA_ARGS=(--image_size=160 --num_workers=2 --target_size=320 --max_size=480 ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"})
build_args
fresh_output
run_logged "$PYTHON" "$MODEL_DIR/train.py" "${TRAIN_ARGS[@]}"
run_logged "$PYTHON" "$MODEL_DIR/eval.py" "${EVAL_ARGS[@]}" --checkpoint="$(latest_checkpoint)"
run_logged "$PYTHON" "$REPO_ROOT/ci/smoke.py" --summarize "$OUTPUT_PATH"
