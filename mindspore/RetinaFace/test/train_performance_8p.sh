#!/usr/bin/env bash
# Training throughput with N data-parallel workers (msrun; default 8): --steps steps per worker at 840x840,
# batch 8 per worker; prints the global images/s.
#   bash test/train_performance_8p.sh --data_path=DIR [--device=gpu|npu|cpu] [--device_num=8] [--steps=20]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
N="${DEVICE_NUM:-8}"
STEPS="${STEPS:-20}"
J="$OUTPUT_PATH/train_performance_8p.json"
launch_distributed "$N" train.py --data_path="$DATA_PATH" --device_target="$DEVICE_TARGET" --backbone="$BACKBONE" \
  --is_distributed --max_steps="$STEPS" --ckpt_path="$OUTPUT_PATH/train_performance_8p" \
  --save_checkpoint_steps=1000000 --log_json="$J" "${EXTRA_ARGS[@]}" 2>&1 | tee "$LOG_DIR/train_performance_8p.log"
"$PYTHON" - "$OUTPUT_PATH" "$N" <<'PY' | tee -a "$LOG_DIR/train_performance_8p.log"
import json, os, statistics, sys
out, n = sys.argv[1], int(sys.argv[2])
per_rank = []
for r in range(n):
    d = json.load(open(os.path.join(out, f"train_performance_8p_rank{r}.json")))
    per_rank.append(statistics.median(d["step_times"][1:] or d["step_times"]))
    bs = d["batch_size"]                 # per device, as train.py resolved it
step = max(per_rank)
print(f"[performance {n}p] median {step:.3f} s/step (slowest rank), {n * bs / step:.2f} images/s global")
PY
