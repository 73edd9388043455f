#!/usr/bin/env bash
# The reference's full training, data parallel on --device_num workers (torchrun + DistributedDataParallel: gloo on cpu,
# nccl on gpu, hccl on npu; a free port; all workers stop when one fails), then the WIDER FACE val evaluation of the
# best-validation model with the reference's multi-scale protocol on device 0.
# The global batch stays the reference's 16 (--batch_size defaults to 16 / device_num per worker; the LR schedule is
# unchanged), as the reference's multi-GPU mode (DataParallel over a batch of 16) had it.
#   bash test/train_full_8p.sh --data_path=WIDER --device=gpu [--device_num=8] [--basenet=vgg16_reducedfc.pth]
#   bash test/train_full_8p.sh --data_path=WIDER --device=cpu --device_num=2
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
for a in "$@"; do
  case "$a" in --device_id=*) [[ "${a#*=}" == 0 ]] || die "--device_id: the workers use devices 0..device_num-1 (restrict them with CUDA_VISIBLE_DEVICES / ASCEND_RT_VISIBLE_DEVICES)" ;; esac
done
((DEVICE_NUM >= 1)) || die "--device_num must be at least 1"
[[ -f "$DATA_PATH/ground_truth/wider_face_val.mat" || -f "$DATA_PATH/eval_tools/ground_truth/wider_face_val.mat" ]] ||
  die "--data_path=$DATA_PATH: no ground_truth/wider_face_val.mat (the WIDER evaluation ground truth) for the final evaluation"
BATCH_SIZE="${BATCH_SIZE:-$(( 16 / DEVICE_NUM > 0 ? 16 / DEVICE_NUM : 1 ))}"
opts=(--data_path="$DATA_PATH" --device="$DEVICE" --output_path="$OUTPUT_PATH" --batch_size="$BATCH_SIZE")
for kv in "steps=$STEPS" "epochs=$EPOCHS" "checkpoint=$CHECKPOINT" "resume=$RESUME"; do
  [[ -z "${kv#*=}" ]] || opts+=("--$kv")
done
run_logged "$PYTHON" -m torch.distributed.run --nnodes=1 --nproc_per_node="$DEVICE_NUM" --master_addr=127.0.0.1 \
  --master_port="$(free_port)" "$MODEL_DIR/train.py" "${opts[@]}" ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}
ckpt="$OUTPUT_PATH/sfd_face.pth"
[[ -f "$ckpt" ]] || ckpt="$OUTPUT_PATH/$(cat "$OUTPUT_PATH/last_checkpoint")"
run_logged "$PYTHON" "$MODEL_DIR/eval.py" --checkpoint="$ckpt" --data_path="$DATA_PATH" --output_path="$OUTPUT_PATH" \
  --device="$DEVICE"
