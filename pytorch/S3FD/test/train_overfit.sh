#!/usr/bin/env bash
# Overfit check of the whole loop (data, matching, loss, SGD, Detect, WIDER evaluation): trains from scratch on the
# 8-image overfit set, train = val (python ci/make_mini_widerface.py --overfit 8 --out DIR), at --input_size=N
# (default 224) with all 8 images in every batch and the reference's 'val' preprocessing (resize only, --no_augment),
# SGD at the reference's lr 1e-3; in rounds of --round_steps=N (default 50) steps, each followed by the WIDER
# evaluation of the same images stretched to the training size (eval.py --input_size), until the easy AP reaches
# --target=AP (default 0.8) or global step --steps (default 600). Another call with --resume=auto continues.
#   bash test/train_overfit.sh --data_path=DIR [--output_path=OUT] [--steps=600] [--resume=auto]
# --data_path: the overfit set; an empty or new folder is filled with it first.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/s3fd.sh"
one_device "the overfit run uses one device"
SIZE=224 ROUND=50 TARGET=0.8
extra=()
for a in ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}; do
  case "$a" in
    --input_size=*) SIZE="${a#*=}" ;;
    --round_steps=*) ROUND="${a#*=}" ;;
    --target=*) TARGET="${a#*=}" ;;
    *) extra+=("$a") ;;
  esac
done
is_uint "$SIZE" && is_uint "$ROUND" && ((ROUND > 0)) || die "--input_size and --round_steps must be whole numbers"
STEPS="${STEPS:-600}"
BATCH_SIZE="${BATCH_SIZE:-8}"

is_overfit_set() {
  "$PYTHON" -c 'import json, sys
m = json.load(open(sys.argv[1] + "/mini_widerface_meta.json"))
sys.exit(0 if (m.get("overfit") or {}).get("images") == 8 else 1)' "$1" 2>/dev/null
}
if ! is_overfit_set "$DATA_PATH"; then
  [[ -z "$(ls -A "$DATA_PATH")" ]] || die "--data_path=$DATA_PATH is not the 8-image overfit set (python ci/make_mini_widerface.py --overfit 8 --out DIR makes it; an empty folder is filled)"
  run_logged "$PYTHON" "$REPO_ROOT/ci/make_mini_widerface.py" --overfit 8 --out "$DATA_PATH" --quiet
fi

opts=(--data_path="$DATA_PATH" --device="$DEVICE" --device_id="$DEVICE_ID" --output_path="$OUTPUT_PATH"
      --input_size="$SIZE" --batch_size="$BATCH_SIZE" --no_augment --no_val --num_workers=1 --print_every=10
      --save_every="$ROUND" --keep_checkpoints=1)
add_opts "epochs=$EPOCHS"
resume="$RESUME"
init=()
[[ -z "$CHECKPOINT" || -n "$resume" ]] || init=(--checkpoint="$CHECKPOINT")
easy_ap() {
  "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["aps"]["easy"])' "$OUTPUT_PATH/eval_result.json"
}
done_steps=0
if [[ -n "$resume" ]]; then
  ck="$resume"; [[ "$ck" != auto ]] || ck="$OUTPUT_PATH/$(cat "$OUTPUT_PATH/last_checkpoint" 2>/dev/null)"
  [[ -f "$ck" ]] && done_steps="$(basename "$ck" .pth)" && done_steps="${done_steps##*_}"
fi
start=$SECONDS
target_step=$(( (done_steps / ROUND + 1) * ROUND ))
while :; do
  ((target_step <= STEPS)) || target_step=$STEPS
  run_logged "$PYTHON" "$MODEL_DIR/train.py" "${opts[@]}" --steps="$target_step" ${resume:+--resume="$resume"} \
    ${init[@]+"${init[@]}"} ${extra[@]+"${extra[@]}"}
  resume=auto init=()
  ckpt="$(last_checkpoint)"
  run_logged "$PYTHON" "$MODEL_DIR/eval.py" --checkpoint="$ckpt" \
    --data_path="$DATA_PATH" --output_path="$OUTPUT_PATH" --device="$DEVICE" --device_id="$DEVICE_ID" \
    --input_size="$SIZE"
  ap="$(easy_ap)"
  echo "overfit: step $target_step, easy AP $ap (target $TARGET), $((SECONDS - start)) s" | tee -a "$LOG_FILE"
  if "$PYTHON" -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$ap" "$TARGET"; then
    echo "overfit: reached easy AP $ap >= $TARGET at step $target_step" | tee -a "$LOG_FILE"
    exit 0
  fi
  ((target_step < STEPS)) || die "easy AP $ap after $STEPS steps is below the target $TARGET"
  target_step=$((target_step + ROUND))
done
