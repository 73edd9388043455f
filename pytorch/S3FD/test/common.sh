#!/usr/bin/env bash
# Sourced by every test/*.sh of a model folder: one argument parser, interpreter and log folder for the whole zoo.
# Identical copy in every model folder (ci/model_template/test/common.sh; ci/tests checks it).
#
# Options every test/*.sh accepts (and honours; a script that has no use for one says so and exits 2):
#   --data_path=DIR        required: the data set root (the model README says which layout)
#   --device=cpu|gpu|npu   default cpu
#   --device_num=N         data-parallel workers of the *_8p.sh scripts (default 8 on gpu / npu, 2 on cpu)
#   --device_id=N          the device of a 1p run (default 0)
#   --output_path=DIR      checkpoints, train_log.jsonl, model_info.json, eval_result.json
#                          (default test/output/<script name>)
#   --steps=N              train up to global step N (the last step, also after a resume)
#   --epochs=N             train up to epoch N
#   --batch_size=N         per device
#   --checkpoint=CKPT      the checkpoint to start from (training) or to evaluate
#   --resume=auto|CKPT     resume a run (auto: the latest checkpoint in --output_path)
#   --KEY=VALUE, --FLAG    anything else goes to the model's train.py unchanged
# Every path is relative to the directory the script is called from. The interpreter is $PYTHON if set, else the
# repository's .venv when it exists, else the active python. Each script logs to test/output/<script name>.log.
set -euo pipefail

MODEL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_ROOT="$(cd "$MODEL_DIR/../.." && pwd)"
SCRIPT_NAME="$(basename "$0" .sh)"
LOG_DIR="$MODEL_DIR/test/output"

die() { echo "$SCRIPT_NAME.sh: error: $*" >&2; exit 2; }
abspath() { case "$1" in /*|"") printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

SCRIPT_ARGS=("$@")
# given NAME: whether --NAME=... was on the command line (as opposed to a default set below)
given() { local a; for a in ${SCRIPT_ARGS[@]+"${SCRIPT_ARGS[@]}"}; do [[ "$a" == "--$1="* ]] && return 0; done; return 1; }

DATA_PATH="" DEVICE="cpu" DEVICE_NUM="" DEVICE_ID="0" OUTPUT_PATH="" STEPS="" EPOCHS="" BATCH_SIZE=""
CHECKPOINT="" RESUME=""
EXTRA_ARGS=()
for arg in "$@"; do
  case "$arg" in
    --data_path=*) DATA_PATH="$(abspath "${arg#*=}")" ;;
    --device=*) DEVICE="${arg#*=}" ;;
    --device_num=*) DEVICE_NUM="${arg#*=}" ;;
    --device_id=*) DEVICE_ID="${arg#*=}" ;;
    --output_path=*) OUTPUT_PATH="$(abspath "${arg#*=}")" ;;
    --steps=*) STEPS="${arg#*=}" ;;
    --epochs=*) EPOCHS="${arg#*=}" ;;
    --batch_size=*) BATCH_SIZE="${arg#*=}" ;;
    --checkpoint=*) CHECKPOINT="$(abspath "${arg#*=}")" ;;
    --resume=auto) RESUME=auto ;;
    --resume=*) RESUME="$(abspath "${arg#*=}")" ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; sed -n '5,19p' "${BASH_SOURCE[0]}"; exit 0 ;;
    --*) EXTRA_ARGS+=("$arg") ;;
    *) die "unexpected argument '$arg' (options are --name=value; see --help)" ;;
  esac
done

[[ -n "$DATA_PATH" ]] || die "--data_path=DIR is required (see the model README for the data layout)"
[[ -d "$DATA_PATH" ]] || die "--data_path=$DATA_PATH: no such directory"
case "$DEVICE" in cpu|gpu|npu) ;; *) die "--device must be cpu, gpu or npu (got '$DEVICE')" ;; esac
for pair in "device_num=$DEVICE_NUM" "device_id=$DEVICE_ID" "steps=$STEPS" "epochs=$EPOCHS" \
            "batch_size=$BATCH_SIZE"; do
  [[ -z "${pair#*=}" ]] || is_uint "${pair#*=}" || die "--${pair%%=*} must be a whole number (got '${pair#*=}')"
done
if [[ -n "$CHECKPOINT" && ! -e "$CHECKPOINT" ]]; then die "--checkpoint=$CHECKPOINT: no such file"; fi
if [[ -n "$RESUME" && "$RESUME" != auto && ! -e "$RESUME" ]]; then die "--resume=$RESUME: no such file"; fi
if [[ -z "$DEVICE_NUM" ]]; then
  if [[ "$DEVICE" == cpu ]]; then DEVICE_NUM=2; else DEVICE_NUM=8; fi
fi

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$REPO_ROOT/.venv/bin/python" ]]; then PYTHON="$REPO_ROOT/.venv/bin/python"
  else PYTHON="$(command -v python || command -v python3 || true)"; fi
fi
[[ -n "$PYTHON" ]] || die "no python found: create the repository's .venv (bash ci/setup_env.sh) or set PYTHON"
export PATH="$(dirname "$PYTHON"):$PATH"          # torchrun / msrun live next to the interpreter
export PYTHONPATH="$MODEL_DIR${PYTHONPATH:+:$PYTHONPATH}"

OUTPUT_PATH="${OUTPUT_PATH:-$LOG_DIR/$SCRIPT_NAME}"
mkdir -p "$LOG_DIR" "$OUTPUT_PATH" || die "cannot create $OUTPUT_PATH"
LOG_FILE="$LOG_DIR/$SCRIPT_NAME.log"

# a TCP port that is free now, for a launcher's rendezvous (never a fixed port another job may hold)
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# run COMMAND..., its stdout and stderr shown as they are (an error stays on stderr) and both appended to $LOG_FILE;
# returns the command's status
run_logged() {
  echo "\$ $*" >>"$LOG_FILE"
  local rc=0
  # stderr through one tee back to stderr, stdout through another; with pipefail the status is the command's
  { "$@" 2>&1 1>&3 3>&- | tee -a "$LOG_FILE" >&2; } 3>&1 | tee -a "$LOG_FILE" || rc=$?
  return "$rc"
}
