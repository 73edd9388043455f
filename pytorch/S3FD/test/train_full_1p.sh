#!/usr/bin/env bash
# The reference's full training on one device (data/config.py: SGD lr 1e-3, momentum 0.9, weight decay 5e-4, batch 16,
# lr x0.1 after global steps 80k / 100k / 120k, 300 epochs at 640x640, validation loss after every epoch), then the
# WIDER FACE val evaluation of the best-validation model (OUTPUT/sfd_face.pth) with the reference's multi-scale protocol.
#   bash test/train_full_1p.sh --data_path=WIDER [--device=gpu --device_id=0] [--basenet=vgg16_reducedfc.pth]
# --data_path: WIDER FACE (wider_face_split/, WIDER_{train,val}/images/, ground_truth/ or eval_tools/ground_truth/).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
for a in "$@"; do
  case "$a" in --device_num=*) [[ "${a#*=}" == 1 ]] || die "--device_num=${a#*=}: this script trains on one device (train_full_8p.sh runs several)" ;; esac
done
[[ -f "$DATA_PATH/ground_truth/wider_face_val.mat" || -f "$DATA_PATH/eval_tools/ground_truth/wider_face_val.mat" ]] ||
  die "--data_path=$DATA_PATH: no ground_truth/wider_face_val.mat (the WIDER evaluation ground truth) for the final evaluation"
opts=(--data_path="$DATA_PATH" --device="$DEVICE" --device_id="$DEVICE_ID" --output_path="$OUTPUT_PATH")
for kv in "steps=$STEPS" "epochs=$EPOCHS" "batch_size=$BATCH_SIZE" "checkpoint=$CHECKPOINT" "resume=$RESUME"; do
  [[ -z "${kv#*=}" ]] || opts+=("--$kv")
done
run_logged "$PYTHON" "$MODEL_DIR/train.py" "${opts[@]}" ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}
ckpt="$OUTPUT_PATH/sfd_face.pth"
[[ -f "$ckpt" ]] || ckpt="$OUTPUT_PATH/$(cat "$OUTPUT_PATH/last_checkpoint")"
run_logged "$PYTHON" "$MODEL_DIR/eval.py" --checkpoint="$ckpt" --data_path="$DATA_PATH" --output_path="$OUTPUT_PATH" \
  --device="$DEVICE" --device_id="$DEVICE_ID"
