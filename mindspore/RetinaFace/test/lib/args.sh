#!/usr/bin/env bash
# Sourced by test/*.sh after test/common.sh and scripts/env.sh: the train.py / eval.py arguments of common.sh's
# options, the run's latest checkpoint, fresh output folders, the ModelZoo performance line.
# (given NAME, from common.sh: whether --NAME= is on the command line)

# refuse NAME WHY: one line and exit 2 when --NAME= was given to a script that has no use for it
refuse() { if given "$1"; then die "--$1: $2"; fi; }

# TRAIN_ARGS / EVAL_ARGS from common.sh's options; the evaluation protocol's options go to eval.py, every other
# unknown option to train.py
build_args() {
  TRAIN_ARGS=(--data_path="$DATA_PATH" --device_target="$DEVICE" --output_path="$OUTPUT_PATH")
  EVAL_ARGS=(--data_path="$DATA_PATH" --device_target="$DEVICE" --output_path="$OUTPUT_PATH")
  if given device_id; then TRAIN_ARGS+=(--device_id="$DEVICE_ID"); EVAL_ARGS+=(--device_id="$DEVICE_ID"); fi
  if [[ -n "$STEPS" ]]; then TRAIN_ARGS+=(--steps="$STEPS"); fi
  if [[ -n "$EPOCHS" ]]; then TRAIN_ARGS+=(--epoch="$EPOCHS"); fi
  if [[ -n "$BATCH_SIZE" ]]; then TRAIN_ARGS+=(--batch_size="$BATCH_SIZE"); fi
  if [[ -n "$CHECKPOINT" ]]; then TRAIN_ARGS+=(--checkpoint="$CHECKPOINT"); fi
  if [[ -n "$RESUME" ]]; then TRAIN_ARGS+=(--resume="$RESUME"); fi
  local a
  for a in ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}; do
    case "$a" in
      --target_size=*|--max_size=*|--val_origin_size|--confidence_threshold=*|--nms_threshold=*|--iou_threshold=*)
        EVAL_ARGS+=("$a") ;;
      *) TRAIN_ARGS+=("$a") ;;
    esac
  done
}

# the checkpoint of the highest global step in --output_path
latest_checkpoint() {
  local found
  found="$(ls "$OUTPUT_PATH"/retinaface_step*.ckpt 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$found" ]] || die "no checkpoint retinaface_step*.ckpt in $OUTPUT_PATH after training"
  printf '%s' "$found"
}

# a script whose runs are throw-away (smoke, performance, overfit) starts fresh: the run files of an earlier run in
# --output_path go, unless --resume continues it
fresh_output() {
  if [[ -z "$RESUME" ]]; then
    rm -rf "$OUTPUT_PATH"/retinaface_step*.ckpt "$OUTPUT_PATH"/train_log.jsonl "$OUTPUT_PATH"/model_info.json \
           "$OUTPUT_PATH"/eval_result.json "$OUTPUT_PATH"/smoke_result.json "$OUTPUT_PATH"/predictions
  fi
}

# final_performance LOG [OFFSET]: "Final Performance images/sec : N" (ModelZoo) from train.py's throughput line in
# LOG after byte OFFSET (where this run's output starts in an appended log)
final_performance() {
  local ips
  ips="$(tail -c +"$((${2:-0} + 1))" "$1" | grep -o 'train throughput: [0-9.]* images/sec' | tail -n 1 | awk '{print $3}')"
  [[ -n "$ips" ]] || die "no 'train throughput' line in $1: no step was trained"
  echo "Final Performance images/sec : $ips"
}
