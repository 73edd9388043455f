#!/usr/bin/env bash
# Sourced by the reference-style scripts of this folder: paths, the interpreter and the config of a backbone.
BASE_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODEL_DIR="$(cd "$BASE_PATH/.." && pwd)"
REPO_ROOT="$(cd "$MODEL_DIR/../.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$REPO_ROOT/.venv/bin/python" ]]; then PYTHON="$REPO_ROOT/.venv/bin/python"
  else PYTHON="$(command -v python || command -v python3)"; fi
fi
export PATH="$(dirname "$PYTHON"):$PATH"

fail() { echo "$(basename "$0"): error: $*" >&2; exit 2; }

get_real_path() {
  if [[ "${1:0:1}" == "/" ]]; then echo "$1"; else realpath -m "$PWD/$1"; fi
}

# config_for BACKBONE [cpu]: the YAML of a backbone (the FaceMask CPU config for ResNet50 v1.5 on CPU; $CONFIG_PATH
# overrides)
config_for() {
  if [[ -n "${CONFIG_PATH:-}" ]]; then get_real_path "$CONFIG_PATH"; return; fi
  case "$1" in
    resnet_v1.5_50) if [[ "${2:-}" == cpu ]]; then echo "$MODEL_DIR/fasterrcnn_facemask_config_cpu.yaml";
                    else echo "$MODEL_DIR/default_config.yaml"; fi ;;
    resnet_v1_50) echo "$MODEL_DIR/default_config.yaml" ;;
    resnet_v1_101) echo "$MODEL_DIR/default_config_101.yaml" ;;
    resnet_v1_152) echo "$MODEL_DIR/default_config_152.yaml" ;;
    inception_resnet_v2) echo "$MODEL_DIR/default_config_InceptionResnetV2.yaml" ;;
    *) fail "the selected backbone must be resnet_v1_50, resnet_v1.5_50, resnet_v1_101, resnet_v1_152 or inception_resnet_v2 (got '$1')" ;;
  esac
}

# mindrecord_dir ROOT [DIR]: DIR if given (must exist), else ROOT/MindRecord_COCO_TRAIN/
mindrecord_dir_of() {
  if [[ -n "${2:-}" ]]; then
    local d; d="$(get_real_path "$2")"
    [[ -d "$d" ]] || fail "mindrecord_dir=$d is not a dir"
    echo "$d"
  else
    echo "$1/MindRecord_COCO_TRAIN/"
  fi
}

# standalone_train TARGET PRETRAINED BACKBONE COCO_ROOT MINDRECORD_DIR [DEVICE_ID]: a fresh ../train, train.py there in
# the background, its log ../train/train.log
standalone_train() {
  local target="$1" pretrained="" backbone="$3" root config mr
  config="$(config_for "$backbone" "$([[ $target == CPU ]] && echo cpu)")" || exit 2
  if [[ -n "$2" ]]; then pretrained="$(get_real_path "$2")"; [[ -f "$pretrained" ]] || fail "PRETRAINED_PATH=$pretrained is not a file"; fi
  root="$(get_real_path "$4")"; [[ -d "$root" ]] || fail "COCO_ROOT=$root is not a dir"
  mr="$(mindrecord_dir_of "$root" "$5")" || exit 2
  export DEVICE_NUM=1 RANK_ID=0 RANK_SIZE=1
  local dev=()
  case "$target" in
    Ascend) export DEVICE_ID="$6"; dev=(--device_id="$6") ;;
    GPU) export CUDA_VISIBLE_DEVICES="$6" ;;
  esac
  rm -rf "$MODEL_DIR/train" && mkdir "$MODEL_DIR/train" && cd "$MODEL_DIR/train" || exit 1
  echo "start training on $target${6:+ (device $6)}; log: $MODEL_DIR/train/train.log"
  env > env.log
  "$PYTHON" "$MODEL_DIR/train.py" --config_path="$config" --coco_root="$root" --mindrecord_dir="$mr" \
    --pre_trained="$pretrained" --device_target="$target" --backbone="$backbone" "${dev[@]+"${dev[@]}"}" &> train.log &
}

# run_eval TARGET ANN_FILE CHECKPOINT BACKBONE COCO_ROOT [DEVICE_ID]: a fresh ../eval, eval.py there in the background,
# its log ../eval/eval.log
run_eval() {
  local target="$1" ann ckpt config root
  ann="$(get_real_path "$2")"; [[ -f "$ann" ]] || fail "ANN_FILE=$ann is not a file"
  ckpt="$(get_real_path "$3")"; [[ -f "$ckpt" ]] || fail "CHECKPOINT_PATH=$ckpt is not a file"
  config="$(config_for "$4" "$([[ $target == CPU ]] && echo cpu)")" || exit 2
  root="$(get_real_path "$5")"; [[ -d "$root" ]] || fail "COCO_ROOT=$root is not a dir"
  export DEVICE_NUM=1 RANK_SIZE=1 RANK_ID=0
  case "$target" in
    Ascend) export DEVICE_ID="$6" ;;
    GPU) export CUDA_VISIBLE_DEVICES="$6" ;;
  esac
  rm -rf "$MODEL_DIR/eval" && mkdir "$MODEL_DIR/eval" && cd "$MODEL_DIR/eval" || exit 1
  echo "start eval on $target${6:+ (device $6)}; log: $MODEL_DIR/eval/eval.log"
  env > env.log
  "$PYTHON" "$MODEL_DIR/eval.py" --config_path="$config" --coco_root="$root" --dataset=coco --device_target="$target" \
    --anno_path="$ann" --checkpoint_path="$ckpt" --backbone="$4" --output_path=. &> eval.log &
}
