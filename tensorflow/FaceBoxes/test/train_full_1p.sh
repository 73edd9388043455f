#!/usr/bin/env bash
# The reference's full training on one device (240k steps of batch 16 at 1024x1024; src/config.py), then the WIDER
# val evaluation of the last checkpoint when DATA has WIDER_val. DATA is a WIDER FACE root (converted once into
# OUTPUT/train_shards) or a folder of *.tfrecords shards. Checkpoints and run files go to --output_path.
#   bash test/train_full_1p.sh --data_path=DATA [--output_path=DIR] [--steps=N] [--batch_size=B]
#        [--device=cpu|gpu|npu] [--device_id=N] [--checkpoint=CKPT | --resume=auto|CKPT] [train.py options]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/faceboxes.sh"
one_device "$@"
: >"$LOG_FILE"
shards_of "$DATA_PATH" "$OUTPUT_PATH/train_shards"
train_args --data_path="$SHARDS"
run_logged "$PYTHON" "$MODEL_DIR/train.py" "${TRAIN_ARGS[@]}"
evaluate_run
