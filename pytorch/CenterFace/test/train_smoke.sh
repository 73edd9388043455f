#!/usr/bin/env bash
# CI smoke: a few training steps at 256x256, then WIDER evaluation of the result on the (mini) val set at 256
# letterbox; writes OUTPUT_PATH/smoke_result.json {steps, loss_first, loss_last, sec_per_step, params, anchors, ap}.
source "$(dirname "$0")/common.sh"
steps=${SMOKE_STEPS:-6}
# on a shared, busy CPU one OpenMP thread per process is faster than two (see README, Benchmarks)
if [ "$device" = cpu ]; then export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}; fi
$PYTHON train.py --data_path="$data_path" --device="$device" --output_path="$output_path/smoke_train" \
    --input_size 256 --batch_size 4 --num_epochs 1 --max_steps "$steps" --num_workers 2 --no_val \
    --lr 1e-3 --summary_json "$output_path/smoke_train.json" ${extra[@]+"${extra[@]}"} \
    2>&1 | tee "$log_dir/train_smoke.log"
$PYTHON eval.py --checkpoint "$output_path/smoke_train/model_last.pth" --data_path="$data_path" \
    --device="$device" --output_path "$output_path/smoke_eval" --input_size 256 2>&1 | tee -a "$log_dir/train_smoke.log"
$PYTHON - "$output_path" <<'PY'
import json, os, sys
out = sys.argv[1]
r = json.load(open(os.path.join(out, "smoke_train.json")))
r["ap"] = json.load(open(os.path.join(out, "smoke_eval", "wider_ap.json")))["ap"]
tmp = os.path.join(out, ".smoke_result.json.tmp")
with open(tmp, "w") as f:
    json.dump(r, f)
os.replace(tmp, os.path.join(out, "smoke_result.json"))
print(json.dumps(r))
PY
