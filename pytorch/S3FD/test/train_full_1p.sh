#!/usr/bin/env bash
# The reference's full training on one device (data/config.py: SGD lr 1e-3, momentum 0.9, weight decay 5e-4, batch 16,
# lr x0.1 after global steps 80k / 100k / 120k, 300 epochs at 640x640, validation loss after every epoch), then the
# WIDER FACE val evaluation of the best-validation model (OUTPUT/sfd_face.pth) with the reference's multi-scale protocol.
#   bash test/train_full_1p.sh --data_path=WIDER [--device=gpu --device_id=0] [--basenet=vgg16_reducedfc.pth]
# --data_path: WIDER FACE (wider_face_split/, WIDER_{train,val}/images/, ground_truth/ or eval_tools/ground_truth/).
# The evaluation's options --single_scale, --thresh=S, --gt_dir=DIR go to eval.py, every other one to train.py.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/s3fd.sh"
one_device "this script trains on one device (train_full_8p.sh runs several)"
need_wider_gt
split_args
opts=(--data_path="$DATA_PATH" --device="$DEVICE" --device_id="$DEVICE_ID" --output_path="$OUTPUT_PATH")
add_opts "steps=$STEPS" "epochs=$EPOCHS" "batch_size=$BATCH_SIZE" "checkpoint=$CHECKPOINT" "resume=$RESUME"
run_logged "$PYTHON" "$MODEL_DIR/train.py" "${opts[@]}" ${TRAIN_EXTRA[@]+"${TRAIN_EXTRA[@]}"}
ckpt="$(final_checkpoint)"
run_logged "$PYTHON" "$MODEL_DIR/eval.py" --checkpoint="$ckpt" --data_path="$DATA_PATH" --output_path="$OUTPUT_PATH" \
  --device="$DEVICE" --device_id="$DEVICE_ID" ${EVAL_EXTRA[@]+"${EVAL_EXTRA[@]}"}
