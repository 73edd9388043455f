#!/usr/bin/env bash
# The full training data parallel on --device_num workers (msrun on a free port; HCCL on Ascend, NCCL on GPU, gloo-
# like on CPU), then the evaluation of rank 0's last checkpoint into OUTPUT/eval/. Per-worker logs:
# OUTPUT/msrun_log/worker_<rank>.log; all workers stop when one fails.
#   bash test/train_full_8p.sh --data_path=DIR [--device=cpu|gpu|npu] [--device_num=8] [--output_path=DIR]
#        [--steps=N] [--epochs=N] [--batch_size=N] [--checkpoint=BACKBONE.ckpt] [--resume=auto|CKPT] [train.py flags]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/args.sh"
refuse_option device_id "each worker takes its device from its rank"
echo "[train_full_8p] $DEVICE_NUM workers; logs in $OUTPUT_PATH/msrun_log/"
run_logged launch_msrun "$DEVICE_NUM" "$MODEL_DIR/train.py" "${TRAIN_ARGS[@]}" --run_distribute=True
CKPT="$(latest_checkpoint "$OUTPUT_PATH/ckpt_0")"
[[ -n "$CKPT" ]] || die "no checkpoint in $OUTPUT_PATH/ckpt_0 after training"
run_logged "$PYTHON" "$MODEL_DIR/eval.py" "${EVAL_ARGS[@]}" --checkpoint_path="$CKPT"
