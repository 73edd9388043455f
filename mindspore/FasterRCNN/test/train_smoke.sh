#!/usr/bin/env bash
# Smoke run: a few training steps (default 2) of the face config on the mini set at a reduced canvas (128 x 192,
# RoI sampling 32 + 96 per image, 500 proposals, 16 ground-truth slots: SMOKE_ARGS below), the WIDER evaluation of
# the result on the mini val set at that canvas, then ci/smoke.py --summarize writes smoke_result.json.
# --eval_max_images=N evaluates the first N val images only (the contract tests' cheapest run). A fresh run
# unless --resume.
#   bash test/train_smoke.sh --data_path=DIR [--device=cpu|gpu|npu] [--output_path=DIR] [--steps=2]
#        [--eval_max_images=N] [train.py flags]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
STEPS="${STEPS:-2}"
source "$MODEL_DIR/test/lib/args.sh"
refuse_option device_num "a one-device run"
SMOKE_ARGS=(--img_height=128 --img_width=192 --num_gts=16 --rpn_proposal_nms_pre=500 --rpn_proposal_max_num=500
            --num_bboxes_stage2=500 --num_expected_pos_stage2=32 --num_expected_neg_stage2=96 --roi_sample_num=128
            --rpn_nms_pre=500 --rpn_max_num=500 --num_parallel_workers=2 --python_multiprocessing=False)
[[ -n "$RESUME" ]] || rm -rf "$OUTPUT_PATH/ckpt_0" "$OUTPUT_PATH/train_log.jsonl" "$OUTPUT_PATH/eval_result.json"
run_logged "$PYTHON" "$MODEL_DIR/train.py" "${SMOKE_ARGS[@]}" "${TRAIN_ARGS[@]}" --device_id="$DEVICE_ID"
CKPT="$(latest_checkpoint "$OUTPUT_PATH/ckpt_0")"
[[ -n "$CKPT" ]] || die "no checkpoint in $OUTPUT_PATH/ckpt_0 after training"
run_logged "$PYTHON" "$MODEL_DIR/eval.py" "${EVAL_ARGS[@]}" --output_path="$OUTPUT_PATH" --device_id="$DEVICE_ID" \
  --checkpoint_path="$CKPT"
run_logged "$PYTHON" "$REPO_ROOT/ci/smoke.py" --summarize "$OUTPUT_PATH"
