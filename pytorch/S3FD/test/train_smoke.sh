#!/usr/bin/env bash
# CI smoke: --steps (default 4) training steps at 160x160 (--input_size=N changes it), batch 2, no validation, on the
# (mini) WIDER FACE set; then the WIDER evaluation of the last checkpoint on the val images stretched to the same size
# (eval.py --input_size, one pass); then ci/smoke.py --summarize writes OUTPUT_PATH/smoke_result.json.
#   bash test/train_smoke.sh --data_path=ci/data/mini_widerface [--device=cpu] [--steps=4] [--output_path=DIR]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/s3fd.sh"
one_device "the smoke run uses one device"
SIZE=160
extra=()
for a in ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}; do
  case "$a" in --input_size=*) SIZE="${a#*=}" ;; *) extra+=("$a") ;; esac
done
is_uint "$SIZE" || die "--input_size must be a whole number (got '$SIZE')"
opts=(--data_path="$DATA_PATH" --device="$DEVICE" --device_id="$DEVICE_ID" --output_path="$OUTPUT_PATH"
      --steps="${STEPS:-4}" --batch_size="${BATCH_SIZE:-2}" --input_size="$SIZE" --no_val --num_workers=1 --print_every=1)
add_opts "epochs=$EPOCHS" "checkpoint=$CHECKPOINT" "resume=$RESUME"
run_logged "$PYTHON" "$MODEL_DIR/train.py" "${opts[@]}" ${extra[@]+"${extra[@]}"}
ckpt="$(last_checkpoint)"
run_logged "$PYTHON" "$MODEL_DIR/eval.py" --checkpoint="$ckpt" \
  --data_path="$DATA_PATH" --output_path="$OUTPUT_PATH" --device="$DEVICE" --device_id="$DEVICE_ID" --input_size="$SIZE"
"$PYTHON" "$REPO_ROOT/ci/smoke.py" --summarize "$OUTPUT_PATH"
