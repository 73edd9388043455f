#!/usr/bin/env bash
# The reference's evaluation on Ascend: COCO bbox mAP of CHECKPOINT_PATH against VALIDATION_JSON_FILE (images under
# COCO_ROOT/val2017), in a fresh ../eval folder, in the background, log in ../eval/eval.log. The MindRecord
# argument of the reference is accepted and unused (this eval.py reads the images directly).
#   bash scripts/run_eval_ascend.sh [VALIDATION_JSON_FILE] [CHECKPOINT_PATH] [BACKBONE] [COCO_ROOT] [DEVICE_ID] [MINDRECORD_DIR](optional)
source "$(dirname "${BASH_SOURCE[0]}")/common_env.sh"
[[ $# -ge 5 ]] || fail "usage: bash run_eval_ascend.sh [VALIDATION_JSON_FILE] [CHECKPOINT_PATH] [BACKBONE] [COCO_ROOT] [DEVICE_ID] [MINDRECORD_DIR](optional)"
run_eval Ascend "$1" "$2" "$3" "$4" "$5"
