#!/usr/bin/env bash
# A short data-parallel run (default 6 steps) on --device_num workers (msrun); prints
# "Final Performance images/sec : N" (batch x workers / median step time after the first two steps). A fresh run
# unless --resume.
#   bash test/train_performance_8p.sh --data_path=DIR [--device=cpu|gpu|npu] [--device_num=8] [--steps=6] [...]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
STEPS="${STEPS:-6}"
source "$MODEL_DIR/test/lib/args.sh"
refuse_option device_id "each worker takes its device from its rank"
refuse_option epochs "a performance run is limited by --steps"
[[ -n "$RESUME" ]] || rm -rf "$OUTPUT_PATH"/ckpt_*
run_logged launch_msrun "$DEVICE_NUM" "$MODEL_DIR/train.py" "${TRAIN_ARGS[@]}" --run_distribute=True \
  --save_checkpoint=False
run_logged "$PYTHON" "$MODEL_DIR/tools/benchmark.py" --performance_from="$OUTPUT_PATH" --devices="$DEVICE_NUM"
