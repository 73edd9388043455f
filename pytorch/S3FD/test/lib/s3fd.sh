#!/usr/bin/env bash
# Sourced by S3FD's test/*.sh after test/common.sh: the checks and train.py / eval.py arguments the scripts share.
# (given NAME, from common.sh: whether --NAME= is on the command line)

# one_device WHAT: a 1p script refuses --device_num other than 1 (WHAT says why)
one_device() { if given device_num && [[ "$DEVICE_NUM" != 1 ]]; then die "--device_num=$DEVICE_NUM: $1"; fi; }

# workers_from_zero: a data-parallel script's workers use devices 0..device_num-1; --device_id other than 0 is refused
workers_from_zero() {
  if given device_id && [[ "$DEVICE_ID" != 0 ]]; then
    die "--device_id=$DEVICE_ID: the workers use devices 0..device_num-1" \
        "(restrict them with CUDA_VISIBLE_DEVICES / ASCEND_RT_VISIBLE_DEVICES)"
  fi
  ((DEVICE_NUM >= 1)) || die "--device_num must be at least 1"
}

# split_args: common.sh's EXTRA_ARGS into TRAIN_EXTRA (train.py) and EVAL_EXTRA (the evaluation's protocol options
# of eval.py: --single_scale, --thresh=S, --gt_dir=DIR)
split_args() {
  TRAIN_EXTRA=() EVAL_EXTRA=()
  local a
  for a in ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}; do
    case "$a" in --single_scale|--thresh=*|--gt_dir=*) EVAL_EXTRA+=("$a") ;; *) TRAIN_EXTRA+=("$a") ;; esac
  done
}

# need_wider_gt: the final WIDER evaluation needs the official val ground truth (under --data_path, or --gt_dir)
need_wider_gt() {
  given gt_dir && return 0
  [[ -f "$DATA_PATH/ground_truth/wider_face_val.mat" || -f "$DATA_PATH/eval_tools/ground_truth/wider_face_val.mat" ]] ||
    die "--data_path=$DATA_PATH: no ground_truth/wider_face_val.mat (the WIDER evaluation ground truth) for the" \
        "final evaluation (or give --gt_dir=DIR)"
}

# add_opts NAME=VALUE...: append --NAME=VALUE to the array opts for every VALUE that is not empty
add_opts() { local kv; for kv in "$@"; do [[ -z "${kv#*=}" ]] || opts+=("--$kv"); done; }

# last_checkpoint: the run's latest checkpoint (train.py keeps its name in OUTPUT_PATH/last_checkpoint)
last_checkpoint() {
  [[ -f "$OUTPUT_PATH/last_checkpoint" ]] || die "no $OUTPUT_PATH/last_checkpoint: training wrote no checkpoint"
  printf '%s' "$OUTPUT_PATH/$(cat "$OUTPUT_PATH/last_checkpoint")"
}

# final_checkpoint: the best-validation model (sfd_face.pth, as the reference) when there is one, else the latest
final_checkpoint() {
  if [[ -f "$OUTPUT_PATH/sfd_face.pth" ]]; then printf '%s' "$OUTPUT_PATH/sfd_face.pth"; else last_checkpoint; fi
}
