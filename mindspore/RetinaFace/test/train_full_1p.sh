#!/usr/bin/env bash
# The reference's full training on one device (ResNet50, 840x840, batch 8, SGD 0.01, dynamic_lr, 100 epochs; the
# output folder's latest checkpoint is continued with --resume=auto), then the reference WIDER FACE evaluation of the
# last checkpoint (short side 1600, 2176 canvas; --target_size= / --max_size= / --val_origin_size change it).
#   bash test/train_full_1p.sh --data_path=DIR [--device=gpu|npu|cpu] [--device_id=N] [--output_path=DIR]
#        [--steps=N] [--epochs=N] [--batch_size=N] [--checkpoint=CKPT] [--resume=auto|CKPT]
#        [--backbone=mobilenet0.25] [--pretrain_path=res50_pretrain.ckpt] [any train.py flag]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/scripts/env.sh"
source "$MODEL_DIR/test/lib/args.sh"
refuse device_num "train_full_1p.sh trains on one device (data parallel: test/train_full_8p.sh)"
build_args
run_logged "$PYTHON" "$MODEL_DIR/train.py" "${TRAIN_ARGS[@]}"
run_logged "$PYTHON" "$MODEL_DIR/eval.py" "${EVAL_ARGS[@]}" --checkpoint="$(latest_checkpoint)"
