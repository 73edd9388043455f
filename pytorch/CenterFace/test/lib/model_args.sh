#!/usr/bin/env bash
# Sourced by CenterFace's test/*.sh after common.sh: the options of common.sh as train.py / eval.py flags.
#   TRAIN_ARGS   RUN_ARGS: --data_path, --output_path, --device, and --steps / --epochs / --batch_size as train.py's
#                --max_steps / --num_epochs / --batch_size; START_ARGS: --checkpoint / --resume as --init_checkpoint /
#                --resume; then every other --KEY=VALUE unchanged (last: it overrides a script's own defaults)
#   EVAL_ARGS    eval.py's protocol options given to the script (--resize=, --threshold=, --nms=, --top_k=, --iou=,
#                --reference_iou, --gt=): they go to eval.py, not to train.py
#   NEW_RUN      --overwrite unless --resume is given: the short runs (smoke, performance, overfit) start afresh
#   one_device   for the 1p scripts: --device_id selects the device, --device_num other than 1 is refused
#   launcher     for the 8p scripts: torchrun, --device_num processes, on a free port (--device_id is refused;
#                --device_num gpus / npus that are not there: one line, exit 2)
#   evaluate     eval.py on the latest checkpoint of --output_path: OUTPUT_PATH/eval_result.json, predictions/
#   no_evaluate  for the scripts that do not evaluate: eval.py's options are refused

[[ -n "${MODEL_DIR:-}" ]] || { echo "model_args.sh: source it from a test/*.sh after common.sh" >&2; exit 2; }

RUN_ARGS=(--data_path "$DATA_PATH" --output_path "$OUTPUT_PATH" --device "$DEVICE")
[[ -z "$STEPS" ]] || RUN_ARGS+=(--max_steps "$STEPS")
[[ -z "$EPOCHS" ]] || RUN_ARGS+=(--num_epochs "$EPOCHS")
[[ -z "$BATCH_SIZE" ]] || RUN_ARGS+=(--batch_size "$BATCH_SIZE")
START_ARGS=()
[[ -z "$CHECKPOINT" ]] || START_ARGS+=(--init_checkpoint "$CHECKPOINT")
[[ -z "$RESUME" ]] || START_ARGS+=(--resume "$RESUME")
TRAIN_EXTRA=() EVAL_ARGS=()
for a in ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}; do
  case "$a" in
    --resize=*|--threshold=*|--nms=*|--top_k=*|--iou=*|--reference_iou|--gt=*) EVAL_ARGS+=("$a") ;;
    *) TRAIN_EXTRA+=("$a") ;;
  esac
done
TRAIN_ARGS=("${RUN_ARGS[@]}" ${START_ARGS[@]+"${START_ARGS[@]}"} ${TRAIN_EXTRA[@]+"${TRAIN_EXTRA[@]}"})
NEW_RUN=(); [[ -n "$RESUME" ]] || NEW_RUN=(--overwrite)

one_device() {
  if given device_num && [[ "$DEVICE_NUM" != 1 ]]; then
    die "--device_num=$DEVICE_NUM: $SCRIPT_NAME.sh trains on one device; use the _8p script for $DEVICE_NUM"
  fi
  case "$DEVICE" in
    cpu) [[ "$DEVICE_ID" == 0 ]] || die "--device_id=$DEVICE_ID: the cpu is device 0" ;;
    gpu) export CUDA_VISIBLE_DEVICES="$DEVICE_ID" ;;
    npu) export ASCEND_RT_VISIBLE_DEVICES="$DEVICE_ID" ;;
  esac
}

launcher() {
  if given device_id; then
    die "--device_id: $SCRIPT_NAME.sh uses devices 0 to --device_num - 1" \
        "(choose them with CUDA_VISIBLE_DEVICES or ASCEND_RT_VISIBLE_DEVICES)"
  fi
  if [[ "$DEVICE" != cpu ]]; then  # devices that are not there: one line, before torchrun starts the workers
    "$PYTHON" -c 'import sys
from src.device import require_devices
from src.errors import run_cli
sys.exit(run_cli(lambda a: require_devices(a[0], int(a[1])), sys.argv[3], sys.argv[1:3]))' \
      "$DEVICE" "$DEVICE_NUM" "$SCRIPT_NAME.sh" || exit
  fi
  # --standalone: a single-node rendezvous on a port the OS picks (free, no race with other jobs)
  LAUNCH=("$PYTHON" -m torch.distributed.run --standalone --nproc_per_node="$DEVICE_NUM")
}

evaluate() {
  run_logged "$PYTHON" "$MODEL_DIR/eval.py" --checkpoint "$OUTPUT_PATH" --data_path "$DATA_PATH" \
    --device "$DEVICE" --output_path "$OUTPUT_PATH" ${EVAL_ARGS[@]+"${EVAL_ARGS[@]}"}
}

no_evaluate() {
  if ((${#EVAL_ARGS[@]})); then die "${EVAL_ARGS[0]}: $SCRIPT_NAME.sh does not evaluate (eval.py's option)"; fi
}
