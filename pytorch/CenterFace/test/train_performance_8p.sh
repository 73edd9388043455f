#!/usr/bin/env bash
# Throughput with torchrun + DDP: 1 epoch capped at 100 steps; prints the global images/s.
source "$(dirname "$0")/common.sh"
$PYTHON -m torch.distributed.run --standalone --nproc_per_node="$nproc" train.py --data_path="$data_path" \
    --device="$device" --output_path="$output_path/perf_8p" --recipe ascend8p --num_epochs 1 --max_steps 100 \
    --no_val --summary_json "$output_path/perf_8p.json" ${extra[@]+"${extra[@]}"} \
    2>&1 | tee "$log_dir/train_performance_8p.log"
$PYTHON - "$output_path/perf_8p.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"steps {s['steps']}  sec/step {s['sec_per_step']:.3f}  FPS {s['images_per_s']:.2f} images/s "
      f"(global batch {s['global_batch']}; the first step is not timed)")
PY
