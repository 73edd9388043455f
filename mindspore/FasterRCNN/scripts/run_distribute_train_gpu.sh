#!/usr/bin/env bash
# The reference's data-parallel GPU training with mpirun (NCCL), in ../train_parallel/, in the background; per-rank
# logs in ../train_parallel/log_output/. (msrun works too: see test/train_full_8p.sh.)
#   bash scripts/run_distribute_train_gpu.sh [DEVICE_NUM] [PRETRAINED_PATH] [BACKBONE] [COCO_ROOT] [MINDRECORD_DIR](optional)
source "$(dirname "${BASH_SOURCE[0]}")/common_env.sh"
[[ $# -ge 4 ]] || fail "usage: bash run_distribute_train_gpu.sh [DEVICE_NUM] [PRETRAINED_PATH] [BACKBONE] [COCO_ROOT] [MINDRECORD_DIR](optional)"
[[ "$1" =~ ^[0-9]+$ ]] || fail "DEVICE_NUM must be a whole number (got '$1')"
command -v mpirun >/dev/null || fail "mpirun not found (install OpenMPI, or launch with msrun: test/train_full_8p.sh)"
CONFIG_FILE="$(config_for "$3")" || exit 2
PRETRAINED=""; [[ -n "$2" ]] && { PRETRAINED="$(get_real_path "$2")"; [[ -f "$PRETRAINED" ]] || fail "PRETRAINED_PATH=$PRETRAINED is not a file"; }
COCO_ROOT="$(get_real_path "$4")"; [[ -d "$COCO_ROOT" ]] || fail "COCO_ROOT=$COCO_ROOT is not a dir"
MINDRECORD_DIR="$(mindrecord_dir_of "$COCO_ROOT" "${5:-}")" || exit 2
export RANK_SIZE=$1 DEVICE_NUM=$1
rm -rf "$MODEL_DIR/train_parallel" && mkdir "$MODEL_DIR/train_parallel" && cd "$MODEL_DIR/train_parallel" || exit 1
echo "start training on $1 GPUs; logs: $MODEL_DIR/train_parallel/log_output/"
env > env.log
mpirun -n "$1" --output-filename log_output --merge-stderr-to-stdout --allow-run-as-root \
  "$PYTHON" "$MODEL_DIR/train.py" --config_path="$CONFIG_FILE" --coco_root="$COCO_ROOT" \
  --mindrecord_dir="$MINDRECORD_DIR" --device_target=GPU --run_distribute=True --device_num="$1" \
  --pre_trained="$PRETRAINED" --backbone="$3" &> log &
