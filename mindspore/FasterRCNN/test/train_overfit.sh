#!/usr/bin/env bash
# Overfit run: the face config trained on the overfit set (python ci/make_mini_widerface.py --overfit 8 --out DIR:
# train and val are the same 8 images) at a reduced canvas and a light RoI sampling (OVERFIT_ARGS below: 384 x 640,
# 500 proposals, 32 + 96 RoIs per image, base_lr 0.08 (0.01 on one device) with a 40-step warm-up, no augmentation), evaluated
# on those images every --eval_every steps (default 40) until the easy AP reaches --target (default 0.8) or
# --steps (default 800). Writes the run files and the eval_result.json of the last evaluation into --output_path,
# and overfit_result.json (easy AP, steps, wall time). --resume=auto continues an interrupted run (the wall time
# then counts this invocation only).
#   bash test/train_overfit.sh --data_path=OVERFIT_SET [--device=cpu|gpu|npu] [--output_path=DIR] [--steps=800]
#        [--eval_every=40] [--target=0.8] [--resume=auto] [train.py flags]
EVAL_EVERY=40 TARGET=0.8
REST=()
for a in "$@"; do
  case "$a" in
    --eval_every=*) EVAL_EVERY="${a#*=}" ;;
    --target=*) TARGET="${a#*=}" ;;
    *) REST+=("$a") ;;
  esac
done
set -- "${REST[@]+"${REST[@]}"}"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
STEPS="${STEPS:-800}"
is_uint "$EVAL_EVERY" && ((EVAL_EVERY > 0)) || die "--eval_every must be a positive whole number"
source "$MODEL_DIR/test/lib/args.sh"
refuse_option device_num "a one-device run"
refuse_option epochs "the run stops at --target or --steps"
[[ -f "$DATA_PATH/wider_face_split/wider_face_val_bbx_gt.txt" ]] || \
  die "--data_path=$DATA_PATH is not a WIDER FACE layout (make it with: python ci/make_mini_widerface.py --overfit 8 --out DIR)"
OVERFIT_ARGS=(--img_height=384 --img_width=640 --num_gts=32 --rpn_proposal_nms_pre=500 --rpn_proposal_max_num=500
              --num_bboxes_stage2=500 --num_expected_pos_stage2=32 --num_expected_neg_stage2=96 --roi_sample_num=128
              --base_lr=0.08 --warmup_step=40 --epoch_size=400 --flip_ratio=0 --expand_ratio=0 --keep_checkpoint_max=1
              --num_parallel_workers=2 --python_multiprocessing=False)
START=$(date +%s)
DONE=0 AP=0
if [[ "$RESUME" == auto ]]; then
  CKPT="$(latest_checkpoint "$OUTPUT_PATH/ckpt_0")"
  [[ -n "$CKPT" ]] && DONE="$(basename "$CKPT" .ckpt | sed 's/.*_//')"
else
  [[ -z "$RESUME" ]] || die "--resume takes auto here (the run's own output folder)"
  rm -rf "$OUTPUT_PATH/ckpt_0" "$OUTPUT_PATH/train_log.jsonl" "$OUTPUT_PATH/overfit_result.json"
fi
KEEP=(); for a in "${TRAIN_ARGS[@]}"; do [[ "$a" == --resume=* ]] || KEEP+=("$a"); done; TRAIN_ARGS=("${KEEP[@]}")
while ((DONE < STEPS)); do
  NEXT=$((DONE + EVAL_EVERY)); ((NEXT > STEPS)) && NEXT=$STEPS
  RES=(); ((DONE > 0)) && RES=(--resume=auto)
  run_logged "$PYTHON" "$MODEL_DIR/train.py" "${OVERFIT_ARGS[@]}" "${TRAIN_ARGS[@]}" --device_id="$DEVICE_ID" \
    --steps="$NEXT" --save_checkpoint_steps="$EVAL_EVERY" "${RES[@]+"${RES[@]}"}"
  DONE=$NEXT
  CKPT="$(latest_checkpoint "$OUTPUT_PATH/ckpt_0")"
  [[ -n "$CKPT" ]] || die "no checkpoint in $OUTPUT_PATH/ckpt_0 after training"
  run_logged "$PYTHON" "$MODEL_DIR/eval.py" "${EVAL_ARGS[@]}" --output_path="$OUTPUT_PATH" --device_id="$DEVICE_ID" \
    --checkpoint_path="$CKPT"
  AP="$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["aps"]["easy"])' "$OUTPUT_PATH/eval_result.json")"
  echo "[train_overfit] step $DONE: easy AP $AP (target $TARGET)" | tee -a "$LOG_FILE"
  "$PYTHON" -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$AP" "$TARGET" && break
done
WALL=$(( $(date +%s) - START ))
"$PYTHON" -c 'import json, sys
from src.fileio import write_json_atomic
write_json_atomic(sys.argv[1], {"easy_ap": float(sys.argv[2]), "steps": int(sys.argv[3]), "wall_s": int(sys.argv[4]),
                                "target": float(sys.argv[5]), "reached": float(sys.argv[2]) >= float(sys.argv[5])})' \
  "$OUTPUT_PATH/overfit_result.json" "$AP" "$DONE" "$WALL" "$TARGET"
echo "[train_overfit] easy AP $AP after $DONE steps, $WALL s"
