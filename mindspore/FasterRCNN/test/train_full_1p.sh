#!/usr/bin/env bash
# The reference's full training on one device (the face config on WIDER FACE unless --config_path is given;
# --data_path is that config's dataset root), then the evaluation of its last checkpoint into OUTPUT/eval/.
#   bash test/train_full_1p.sh --data_path=DIR [--device=cpu|gpu|npu] [--device_id=0] [--output_path=DIR]
#        [--steps=N] [--epochs=N] [--batch_size=N] [--checkpoint=BACKBONE.ckpt] [--resume=auto|CKPT] [train.py flags]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/args.sh"
refuse_option device_num "a one-device run; use train_full_8p.sh for data parallel"
run_logged "$PYTHON" "$MODEL_DIR/train.py" "${TRAIN_ARGS[@]}" --device_id="$DEVICE_ID"
CKPT="$(latest_checkpoint "$OUTPUT_PATH/ckpt_0")"
[[ -n "$CKPT" ]] || die "no checkpoint in $OUTPUT_PATH/ckpt_0 after training"
run_logged "$PYTHON" "$MODEL_DIR/eval.py" "${EVAL_ARGS[@]}" --device_id="$DEVICE_ID" --checkpoint_path="$CKPT"
