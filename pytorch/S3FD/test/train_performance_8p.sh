#!/usr/bin/env bash
# Training throughput, data parallel on --device_num workers (torchrun + DDP, a free port); prints ModelZoo's
# "Final Performance images/sec : N" (global batch / median step time after the first two steps).
# Defaults: --steps=100 and batch 16 per worker on gpu / npu; --steps=5 and --batch_size=2 per worker on cpu.
#   bash test/train_performance_8p.sh --data_path=WIDER --device=gpu [--device_num=8] [--steps=N]
#   bash test/train_performance_8p.sh --data_path=WIDER --device=cpu --device_num=2
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/s3fd.sh"
workers_from_zero
if [[ "$DEVICE" == cpu ]]; then STEPS="${STEPS:-5}" BATCH_SIZE="${BATCH_SIZE:-2}"; else STEPS="${STEPS:-100}"; fi
opts=(--data_path="$DATA_PATH" --device="$DEVICE" --output_path="$OUTPUT_PATH" --no_val --steps="$STEPS")
add_opts "epochs=$EPOCHS" "batch_size=$BATCH_SIZE" "checkpoint=$CHECKPOINT" "resume=$RESUME"
run_logged "$PYTHON" -m torch.distributed.run --nnodes=1 --nproc_per_node="$DEVICE_NUM" --master_addr=127.0.0.1 \
  --master_port="$(free_port)" "$MODEL_DIR/train.py" "${opts[@]}" ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}
