#!/usr/bin/env bash
# The reference's 8-device Ascend training with an HCCL rank table (made by the models repo's utils/hccl_tools):
# one train.py per device in ../train_parallel<i>/, in the background, logs in ../train_parallel<i>/log.
#   bash scripts/run_distribute_train_ascend.sh [RANK_TABLE_FILE] [PRETRAINED_PATH] [BACKBONE] [COCO_ROOT] [MINDRECORD_DIR](optional)
source "$(dirname "${BASH_SOURCE[0]}")/common_env.sh"
[[ $# -ge 4 ]] || fail "usage: bash run_distribute_train_ascend.sh [RANK_TABLE_FILE] [PRETRAINED_PATH] [BACKBONE] [COCO_ROOT] [MINDRECORD_DIR](optional)"
RANK_TABLE="$(get_real_path "$1")"; [[ -f "$RANK_TABLE" ]] || fail "RANK_TABLE_FILE=$RANK_TABLE is not a file"
CONFIG_FILE="$(config_for "$3")" || exit 2
PRETRAINED=""; [[ -n "$2" ]] && { PRETRAINED="$(get_real_path "$2")"; [[ -f "$PRETRAINED" ]] || fail "PRETRAINED_PATH=$PRETRAINED is not a file"; }
COCO_ROOT="$(get_real_path "$4")"; [[ -d "$COCO_ROOT" ]] || fail "COCO_ROOT=$COCO_ROOT is not a dir"
MINDRECORD_DIR="$(mindrecord_dir_of "$COCO_ROOT" "${5:-}")" || exit 2
ulimit -u unlimited
export HCCL_CONNECT_TIMEOUT=600 DEVICE_NUM=8 RANK_SIZE=8 RANK_TABLE_FILE="$RANK_TABLE"
for ((i = 0; i < DEVICE_NUM; i++)); do
  export DEVICE_ID=$i RANK_ID=$i
  rm -rf "$MODEL_DIR/train_parallel$i" && mkdir "$MODEL_DIR/train_parallel$i" && cd "$MODEL_DIR/train_parallel$i" || exit 1
  echo "start training for rank $RANK_ID, device $DEVICE_ID; log: $MODEL_DIR/train_parallel$i/log"
  env > env.log
  "$PYTHON" "$MODEL_DIR/train.py" --config_path="$CONFIG_FILE" --coco_root="$COCO_ROOT" \
    --mindrecord_dir="$MINDRECORD_DIR" --device_target=Ascend --device_id=$i --rank_id=$i --run_distribute=True \
    --device_num=$DEVICE_NUM --pre_trained="$PRETRAINED" --backbone="$3" --save_checkpoint_path=../train_parallel0 &> log &
done
