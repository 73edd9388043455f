#!/usr/bin/env bash
# The reference's evaluation on CPU: COCO bbox mAP of CHECKPOINT_PATH against VALIDATION_JSON_FILE (images under
# COCO_ROOT/val2017), in a fresh ../eval folder, in the background, log in ../eval/eval.log. The MindRecord
# argument of the reference is accepted and unused (this eval.py reads the images directly).
#   bash scripts/run_eval_cpu.sh [VALIDATION_JSON_FILE] [CHECKPOINT_PATH] [BACKBONE] [COCO_ROOT] [MINDRECORD_DIR](optional)
source "$(dirname "${BASH_SOURCE[0]}")/common_env.sh"
[[ $# -ge 4 ]] || fail "usage: bash run_eval_cpu.sh [VALIDATION_JSON_FILE] [CHECKPOINT_PATH] [BACKBONE] [COCO_ROOT] [MINDRECORD_DIR](optional)"
run_eval CPU "$1" "$2" "$3" "$4"
