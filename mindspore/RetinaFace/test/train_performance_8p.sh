#!/usr/bin/env bash
# Training throughput data parallel on --device_num workers (msrun): --steps steps (default 20) of the reference
# recipe (840x840, batch 8 per worker), then ModelZoo's "Final Performance images/sec : N" over all workers (rank 0's
# median step time after the first two steps). A fresh run unless --resume.
#   bash test/train_performance_8p.sh --data_path=DIR [--device=gpu|npu|cpu] [--device_num=8] [--steps=20]
#        [--batch_size=N] [--output_path=DIR] [--checkpoint=CKPT] [--resume=auto|CKPT] [any train.py flag]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/scripts/env.sh"
source "$MODEL_DIR/test/lib/args.sh"
refuse device_id "msrun gives worker r device r (choose devices with CUDA_VISIBLE_DEVICES / ASCEND_RT_VISIBLE_DEVICES)"
STEPS="${STEPS:-20}"
build_args
fresh_output
rm -f "$OUTPUT_PATH/msrun_log/worker_0.log"
run_logged msrun_launch "$DEVICE_NUM" "$OUTPUT_PATH/msrun_log" "$MODEL_DIR/train.py" "${TRAIN_ARGS[@]}" --is_distributed
final_performance "$OUTPUT_PATH/msrun_log/worker_0.log" | tee -a "$LOG_FILE"
