#!/usr/bin/env bash
# The full training, synchronous data parallel on --device_num workers (default 8 on gpu / npu, 2 on cpu), then the
# WIDER val evaluation of the chief's last checkpoint when DATA has WIDER_val. cpu / gpu: TensorFlow's distributed
# runtime (TF_CONFIG, collective all-reduce; src/distributed.py), local workers on free ports, one GPU each; npu:
# HCCL with RANK_TABLE_FILE. Every worker trains --batch_size images (default 16) per step; a step of N workers is
# the 1-process step with batch N x --batch_size. Worker i logs to test/output/train_full_8p_rank<i>.log.
#   bash test/train_full_8p.sh --data_path=DATA [--device=cpu|gpu|npu] [--device_num=N] [--device_id=FIRST]
#        [--output_path=DIR] [--steps=N] [--batch_size=B] [--checkpoint=CKPT | --resume=auto|CKPT] [train.py options]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/faceboxes.sh"
: >"$LOG_FILE"
shards_of "$DATA_PATH" "$OUTPUT_PATH/train_shards"
train_args --data_path="$SHARDS"
launch_workers "${TRAIN_ARGS[@]}"
evaluate_run
