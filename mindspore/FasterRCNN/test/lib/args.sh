#!/usr/bin/env bash
# Sourced by this model's test/*.sh after common.sh: common.sh's options as train.py / eval.py flags.
#   TRAIN_ARGS  --config_path (the face config unless given) --data_path --device_target --save_checkpoint_path
#               [--steps --epoch_size --batch_size --pre_trained --resume --device_id] + the other options as given
#   EVAL_ARGS   --config_path --data_path --device_target --output_path=<output>/eval [--eval_max_images]
#               (--eval_max_images=N goes to both: eval.py's and --run_eval's evaluations of the first N images)
# --checkpoint=CKPT starts training from CKPT (an ImageNet ResNet, or a Faster R-CNN checkpoint with
# --finetune=True). refuse_option NAME WHY exits 2 when the user gave --NAME= to a script that has no use for it.
case "$DEVICE" in cpu) DEVICE_TARGET=CPU ;; gpu) DEVICE_TARGET=GPU ;; npu) DEVICE_TARGET=Ascend ;; esac
CONFIG_PATH="$MODEL_DIR/fasterrcnn_widerface_config.yaml"
PASS_ARGS=() EVAL_PASS_ARGS=()
for arg in "${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}"; do
  case "$arg" in
    --config_path=*) CONFIG_PATH="$(abspath "${arg#*=}")" ;;
    --eval_max_images=*) PASS_ARGS+=("$arg"); EVAL_PASS_ARGS+=("$arg") ;;
    *) PASS_ARGS+=("$arg") ;;
  esac
done
[[ -f "$CONFIG_PATH" ]] || die "--config_path=$CONFIG_PATH: no such file"
TRAIN_ARGS=(--config_path="$CONFIG_PATH" --data_path="$DATA_PATH" --device_target="$DEVICE_TARGET"
            --save_checkpoint_path="$OUTPUT_PATH")
[[ -n "$STEPS" ]] && TRAIN_ARGS+=(--steps="$STEPS")
[[ -n "$EPOCHS" ]] && TRAIN_ARGS+=(--epoch_size="$EPOCHS")
[[ -n "$BATCH_SIZE" ]] && TRAIN_ARGS+=(--batch_size="$BATCH_SIZE")
[[ -n "$CHECKPOINT" ]] && TRAIN_ARGS+=(--pre_trained="$CHECKPOINT")
[[ -n "$RESUME" ]] && TRAIN_ARGS+=(--resume="$RESUME")
TRAIN_ARGS+=("${PASS_ARGS[@]+"${PASS_ARGS[@]}"}")
EVAL_ARGS=(--config_path="$CONFIG_PATH" --data_path="$DATA_PATH" --device_target="$DEVICE_TARGET"
           --output_path="$OUTPUT_PATH/eval" "${EVAL_PASS_ARGS[@]+"${EVAL_PASS_ARGS[@]}"}")

refuse_option() { if given "$1"; then die "--$1 has no use in $SCRIPT_NAME.sh ($2)"; fi; }

# the checkpoint of the highest global step in DIR (src/checkpoint.py's rule)
latest_checkpoint() {
  "$PYTHON" -c 'import sys; from src.checkpoint import latest_checkpoint as f; print(f(sys.argv[1]) or "")' "$1"
}

# data-parallel run of train.py on N workers with msrun, on a free port; all workers stop when one fails
launch_msrun() {
  local n="$1"; shift
  msrun --worker_num="$n" --local_worker_num="$n" --master_port="${MASTER_PORT:-$(free_port)}" \
        --log_dir="$OUTPUT_PATH/msrun_log" --join=True "$@"
}
