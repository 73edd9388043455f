#!/usr/bin/env bash
# The reference's full training, data parallel on --device_num workers (torchrun + DistributedDataParallel: gloo on cpu,
# nccl on gpu, hccl on npu; a free port; all workers stop when one fails), then the WIDER FACE val evaluation of the
# best-validation model with the reference's multi-scale protocol on device 0.
# The global batch stays the reference's 16 (--batch_size defaults to 16 / device_num per worker; the LR schedule is
# unchanged), as the reference's multi-GPU mode (DataParallel over a batch of 16) had it.
#   bash test/train_full_8p.sh --data_path=WIDER --device=gpu [--device_num=8] [--basenet=vgg16_reducedfc.pth]
#   bash test/train_full_8p.sh --data_path=WIDER --device=cpu --device_num=2
# The evaluation's options --single_scale, --thresh=S, --gt_dir=DIR go to eval.py, every other one to train.py.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/s3fd.sh"
workers_from_zero
need_wider_gt
split_args
BATCH_SIZE="${BATCH_SIZE:-$(( 16 / DEVICE_NUM > 0 ? 16 / DEVICE_NUM : 1 ))}"
opts=(--data_path="$DATA_PATH" --device="$DEVICE" --output_path="$OUTPUT_PATH" --batch_size="$BATCH_SIZE")
add_opts "steps=$STEPS" "epochs=$EPOCHS" "checkpoint=$CHECKPOINT" "resume=$RESUME"
run_logged "$PYTHON" -m torch.distributed.run --nnodes=1 --nproc_per_node="$DEVICE_NUM" --master_addr=127.0.0.1 \
  --master_port="$(free_port)" "$MODEL_DIR/train.py" "${opts[@]}" ${TRAIN_EXTRA[@]+"${TRAIN_EXTRA[@]}"}
ckpt="$(final_checkpoint)"
run_logged "$PYTHON" "$MODEL_DIR/eval.py" --checkpoint="$ckpt" --data_path="$DATA_PATH" --output_path="$OUTPUT_PATH" \
  --device="$DEVICE" ${EVAL_EXTRA[@]+"${EVAL_EXTRA[@]}"}
