#!/usr/bin/env bash
# Training throughput on one device: N steps (default 20) at the reference size (840x840, batch 8); prints
# images/s over the steps after the first (which includes graph compilation).
#   bash test/train_performance_1p.sh --data_path=DIR [--device=gpu|npu|cpu] [--steps=20] [train.py flags]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
STEPS="${STEPS:-20}"
J="$OUTPUT_PATH/train_performance_1p.json"
"$PYTHON" train.py --data_path="$DATA_PATH" --device_target="$DEVICE_TARGET" --backbone="$BACKBONE" \
  --max_steps="$STEPS" --ckpt_path="$OUTPUT_PATH/train_performance_1p" --save_checkpoint_steps=1000000 \
  --log_json="$J" "${EXTRA_ARGS[@]}" 2>&1 | tee "$LOG_DIR/train_performance_1p.log"
"$PYTHON" - "$J" <<'PY' | tee -a "$LOG_DIR/train_performance_1p.log"
import json, statistics, sys
d = json.load(open(sys.argv[1]))
bs = d["batch_size"]                     # per device, as train.py resolved it (8 for ResNet50, 32 for mnet)
t = d["step_times"][1:] or d["step_times"]
print(f"[performance 1p] steps {len(d['step_times'])}, median {statistics.median(t):.3f} s/step, "
      f"{bs / statistics.median(t):.2f} images/s, loss {d['losses'][0]:.3f} -> {d['losses'][-1]:.3f}")
PY
