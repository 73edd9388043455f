#!/usr/bin/env bash
# Smoke run for the zoo harness: a few ResNet50 training steps at 160x160 on the mini set, then the WIDER
# evaluation of the resulting checkpoint on the mini val set (reduced eval size), then smoke_result.json.
#   bash test/train_smoke.sh --data_path=DIR [--device=cpu|gpu|npu] [--output_path=DIR] [--steps=4]
#                            [--backbone=resnet50|mobilenet0.25]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
STEPS="${STEPS:-4}"
OUT="$OUTPUT_PATH"
rm -rf "$OUT/smoke_ckpt" "$OUT/smoke_pred"
"$PYTHON" train.py --data_path="$DATA_PATH" --device_target="$DEVICE_TARGET" --backbone="$BACKBONE" \
  --image_size=160 --batch_size=2 --epoch=1 --max_steps="$STEPS" --num_workers=2 --save_checkpoint_steps=100000 \
  --ckpt_path="$OUT/smoke_ckpt" --log_json="$OUT/smoke_train.json" "${EXTRA_ARGS[@]}" 2>&1 | tee "$LOG_DIR/train_smoke.log"
CKPT="$(ls -t "$OUT"/smoke_ckpt/ckpt_0/*.ckpt | head -1)"
"$PYTHON" eval.py --data_path="$DATA_PATH" --checkpoint="$CKPT" --device_target="$DEVICE_TARGET" \
  --pred_dir="$OUT/smoke_pred" --target_size=320 --max_size=480 --json="$OUT/smoke_eval.json" \
  2>&1 | tee -a "$LOG_DIR/train_smoke.log"
"$PYTHON" - "$OUT" "$BACKBONE" <<'PY'
import json, os, statistics, sys
out, backbone = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.getcwd())
from src.config import get_config
from src.network import RetinaFace, count_params
from src.utils import num_priors
cfg = get_config(backbone)
tr = json.load(open(os.path.join(out, "smoke_train.json")))
ev = json.load(open(os.path.join(out, "smoke_eval.json")))
net = RetinaFace(cfg)
params = count_params(net) - sum(int(p.size) for p in net.trainable_params() if "end_point" in p.name)
times = tr["step_times"][1:] or tr["step_times"]            # the first step includes graph compilation
res = {"steps": len(tr["losses"]), "loss_first": tr["losses"][0], "loss_last": tr["losses"][-1],
       "sec_per_step": statistics.median(times), "params": params,
       "anchors": num_priors((cfg["image_size"], cfg["image_size"]), cfg["steps"]), "ap": ev["ap"]}
with open(os.path.join(out, "smoke_result.json"), "w") as f:
    json.dump(res, f)
print(json.dumps(res))
PY
