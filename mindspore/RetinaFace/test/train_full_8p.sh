#!/usr/bin/env bash
# The reference's full training data parallel on --device_num workers (msrun; batch 8 per worker; all workers stop
# when one fails; rank r logs to OUTPUT_PATH/msrun_log/worker_r.log), then the reference WIDER FACE evaluation of
# rank 0's last checkpoint (--target_size= / --max_size= / --val_origin_size change the protocol's sizes).
#   bash test/train_full_8p.sh --data_path=DIR [--device=gpu|npu|cpu] [--device_num=8] [--output_path=DIR]
#        [--steps=N] [--epochs=N] [--batch_size=N] [--checkpoint=CKPT] [--resume=auto|CKPT] [any train.py flag]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/scripts/env.sh"
source "$MODEL_DIR/test/lib/args.sh"
refuse device_id "msrun gives worker r device r (choose devices with CUDA_VISIBLE_DEVICES / ASCEND_RT_VISIBLE_DEVICES)"
build_args
run_logged msrun_launch "$DEVICE_NUM" "$OUTPUT_PATH/msrun_log" "$MODEL_DIR/train.py" "${TRAIN_ARGS[@]}" --is_distributed
run_logged "$PYTHON" "$MODEL_DIR/eval.py" "${EVAL_ARGS[@]}" --checkpoint="$(latest_checkpoint)"
