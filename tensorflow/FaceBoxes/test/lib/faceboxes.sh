#!/usr/bin/env bash
# Sourced by the FaceBoxes test/*.sh scripts right after test/common.sh: what common.sh's options mean for FaceBoxes.
#   --steps      train.py --steps (the last global step, also after a resume)
#   --epochs     refused: FaceBoxes trains to a global step, as the reference (240k steps of batch 16)
#   --batch_size train.py --batch_size (per worker)
#   --checkpoint train.py --checkpoint (a new run from these weights); --resume train.py --resume (auto or CKPT)
#   --device_id  the device of a 1p run (CUDA_VISIBLE_DEVICES / ASCEND_DEVICE_ID), the first device of an 8p run
#   --device_num the workers of the *_8p.sh scripts; refused by the 1p scripts unless 1
#   anything else (--image_size=S, --lr_scale=X, --no_augmentation, ...) goes to train.py unchanged.

[[ -z "$EPOCHS" ]] || die "--epochs=$EPOCHS: FaceBoxes trains to a global step, as the reference (240k steps of" \
  "batch 16): use --steps"

# TRAIN_ARGS: the train.py options of this run (after the script's own defaults in its arguments)
train_args() {
  TRAIN_ARGS=(--device="$DEVICE" --output_path="$OUTPUT_PATH" "$@")
  [[ -z "$STEPS" ]] || TRAIN_ARGS+=(--steps="$STEPS")
  [[ -z "$BATCH_SIZE" ]] || TRAIN_ARGS+=(--batch_size="$BATCH_SIZE")
  [[ -z "$CHECKPOINT" ]] || TRAIN_ARGS+=(--checkpoint="$CHECKPOINT")
  [[ -z "$RESUME" ]] || TRAIN_ARGS+=(--resume="$RESUME")
  TRAIN_ARGS+=(${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"})
}

# one_device "$@": the 1p scripts train on --device_id alone
one_device() {
  local arg
  for arg in "$@"; do
    if [[ "$arg" == --device_num=* && "$arg" != --device_num=1 ]]; then
      die "$arg: $SCRIPT_NAME.sh trains on one device (data parallel: train_full_8p.sh, train_performance_8p.sh)"
    fi
  done
  case "$DEVICE" in
    cpu) [[ "$DEVICE_ID" == 0 ]] || die "--device_id=$DEVICE_ID: --device=cpu has the one device 0" ;;
    gpu) export CUDA_VISIBLE_DEVICES="$DEVICE_ID" ;;
    npu) export ASCEND_DEVICE_ID="$DEVICE_ID" DEVICE_ID="$DEVICE_ID" ;;
  esac
}

# shards_of DATA OUT_DIR [NUM_SHARDS]: sets SHARDS to a folder of training shards: DATA itself (or DATA/train_shards)
# when it holds *.tfrecords, else the WIDER FACE layout DATA converted into OUT_DIR (once; 150 shards as the reference)
shards_of() {
  local data="$1" out="$2" num="${3:-150}"
  if compgen -G "$data/*.tfrecords" >/dev/null || compgen -G "$data/train_shards/*.tfrecords" >/dev/null; then
    SHARDS="$data"
  elif [[ -d "$data/WIDER_train/images" ]]; then
    SHARDS="$out"
    if ! compgen -G "$out/*.tfrecords" >/dev/null; then
      run_logged "$PYTHON" "$MODEL_DIR/src/preparedata/create_tfrecords.py" --data_path="$data" --split=train \
        --output_dir="$out" --num_shards="$num" --workers=2
    fi
  else
    die "--data_path=$data holds neither *.tfrecords shards nor the WIDER FACE layout (WIDER_train/images)"
  fi
}

# new_run: the smoke and performance scripts start a new run each time: the run files of an earlier one in
# OUTPUT_PATH go (only those; with --resume they stay)
new_run() {
  [[ -z "$RESUME" ]] || return 0
  rm -rf "$OUTPUT_PATH"/model.ckpt-* "$OUTPUT_PATH"/checkpoint "$OUTPUT_PATH"/graph.pbtxt \
    "$OUTPUT_PATH"/events.out.tfevents.* "$OUTPUT_PATH"/train_log.jsonl "$OUTPUT_PATH"/model_info.json \
    "$OUTPUT_PATH"/eval_result.json "$OUTPUT_PATH"/predictions "$OUTPUT_PATH"/smoke_result.json
}

# evaluate_run [eval.py options]: WIDER val evaluation of the run's latest checkpoint into OUTPUT_PATH, when the data
# has WIDER_val
evaluate_run() {
  if [[ -d "$DATA_PATH/WIDER_val/images" ]]; then
    run_logged "$PYTHON" "$MODEL_DIR/eval.py" --checkpoint="$OUTPUT_PATH" --data_path="$DATA_PATH" \
      --output_path="$OUTPUT_PATH" --device="$DEVICE" "$@"
  else
    echo "no $DATA_PATH/WIDER_val/images: evaluation skipped" | tee -a "$LOG_FILE"
  fi
}

# launch_workers TRAIN_ARGS...: DEVICE_NUM local processes of train.py as one synchronous data-parallel job.
# cpu / gpu: TensorFlow's distributed runtime, each worker with its TF_CONFIG on free ports (src/distributed.py);
# gpu worker i sees GPU DEVICE_ID+i; npu: Ascend's HCCL with RANK_TABLE_FILE, RANK_SIZE, RANK_ID.
# Worker i logs to test/output/<script>_rank<i>.log; when one worker fails the others are stopped.
launch_workers() {
  local n="$DEVICE_NUM" i rc=0 pid hosts="" port log
  local -a pids=() ports=()
  ((n >= 1)) || die "--device_num=$n: at least one worker"
  if [[ "$DEVICE" == npu ]]; then
    [[ -n "${RANK_TABLE_FILE:-}" && -f "${RANK_TABLE_FILE:-}" ]] \
      || die "--device=npu: set RANK_TABLE_FILE to the HCCL rank table (json) of the $n devices"
    export RANK_SIZE="$n" JOB_ID="${JOB_ID:-10087}"
  else
    read -r -a ports < <("$PYTHON" -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$n")
    for port in "${ports[@]}"; do hosts="$hosts${hosts:+,}\"127.0.0.1:$port\""; done
  fi
  local extra=()
  if [[ "$DEVICE" == cpu ]] && ! printf '%s\n' "$@" | grep -q '^--threads='; then
    extra=(--threads="$(( $(nproc) / n > 0 ? $(nproc) / n : 1 ))")   # the cores shared by the local workers
  fi
  for ((i = 0; i < n; i++)); do
    log="$LOG_DIR/${SCRIPT_NAME}_rank$i.log"
    if [[ "$DEVICE" == npu ]]; then
      RANK_ID="$i" ASCEND_DEVICE_ID="$((DEVICE_ID + i))" DEVICE_ID="$((DEVICE_ID + i))" \
        "$PYTHON" "$MODEL_DIR/train.py" "$@" >"$log" 2>&1 &
    elif [[ "$DEVICE" == gpu ]]; then
      TF_CONFIG="{\"cluster\": {\"worker\": [$hosts]}, \"task\": {\"type\": \"worker\", \"index\": $i}}" \
        CUDA_VISIBLE_DEVICES="$((DEVICE_ID + i))" "$PYTHON" "$MODEL_DIR/train.py" "$@" >"$log" 2>&1 &
    else
      TF_CONFIG="{\"cluster\": {\"worker\": [$hosts]}, \"task\": {\"type\": \"worker\", \"index\": $i}}" \
        "$PYTHON" "$MODEL_DIR/train.py" "$@" ${extra[@]+"${extra[@]}"} >"$log" 2>&1 &
    fi
    pids+=("$!")
  done
  echo "$n workers ($DEVICE): pids ${pids[*]}; follow worker 0 with: tail -f $LOG_DIR/${SCRIPT_NAME}_rank0.log" \
    | tee -a "$LOG_FILE"
  for ((i = 0; i < n; i++)); do
    wait -n || { rc=$?; break; }
  done
  if ((rc != 0)); then
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for ((i = 0; i < n; i++)); do
      grep -h "error:" "$LOG_DIR/${SCRIPT_NAME}_rank$i.log" | tail -n 1 | sed "s/^/worker $i: /" >&2 || true
    done
    echo "$SCRIPT_NAME.sh: error: a worker failed (exit $rc), the others were stopped; logs" \
      "$LOG_DIR/${SCRIPT_NAME}_rank*.log" >&2
    exit "$rc"
  fi
  cat "$LOG_DIR/${SCRIPT_NAME}_rank0.log" >>"$LOG_FILE"
  tail -n 4 "$LOG_DIR/${SCRIPT_NAME}_rank0.log"
}
