#!/usr/bin/env bash
# Throughput on 1 device: 1 epoch capped at 100 steps (override with --max_steps=N); prints images/s.
source "$(dirname "$0")/common.sh"
$PYTHON train.py --data_path="$data_path" --device="$device" --output_path="$output_path/perf_1p" \
    --recipe reference --num_epochs 1 --max_steps 100 --no_val --summary_json "$output_path/perf_1p.json" \
    ${extra[@]+"${extra[@]}"} 2>&1 | tee "$log_dir/train_performance_1p.log"
$PYTHON - "$output_path/perf_1p.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"steps {s['steps']}  sec/step {s['sec_per_step']:.3f}  FPS {s['images_per_s']:.2f} images/s "
      f"(global batch {s['global_batch']}; the first step is not timed)")
PY
