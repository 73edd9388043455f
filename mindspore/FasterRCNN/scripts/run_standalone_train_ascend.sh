#!/usr/bin/env bash
# The reference's Ascend one-device training: a fresh ../train folder next to scripts/, train.py launched there in the
# background, its log in ../train/train.log (checkpoints in ../train/ckpt_0/).
#   bash scripts/run_standalone_train_ascend.sh [PRETRAINED_PATH] [BACKBONE] [COCO_ROOT] [DEVICE_ID] [MINDRECORD_DIR](optional)
# PRETRAINED_PATH: an ImageNet ResNet checkpoint (src/convert_checkpoint.py), or "" for none. $CONFIG_PATH overrides
# the config chosen by BACKBONE.
source "$(dirname "${BASH_SOURCE[0]}")/common_env.sh"
[[ $# -ge 4 ]] || fail "usage: bash run_standalone_train_ascend.sh [PRETRAINED_PATH] [BACKBONE] [COCO_ROOT] [DEVICE_ID] [MINDRECORD_DIR](optional)"
standalone_train Ascend "$1" "$2" "$3" "${5:-}" "$4"
