#!/usr/bin/env bash
# Sourced by RetinaFace's shell entry points (test/*.sh after test/common.sh, and scripts/*.sh): the interpreter,
# MindSpore's environment and the msrun launcher (test/*.sh then source test/lib/args.sh).
MODEL_DIR="${MODEL_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
REPO_ROOT="${REPO_ROOT:-$(cd "$MODEL_DIR/../.." && pwd)}"

# the interpreter (test/common.sh's rule): $PYTHON, else the repository's .venv, else the active python
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$REPO_ROOT/.venv/bin/python" ]]; then PYTHON="$REPO_ROOT/.venv/bin/python"
  else PYTHON="$(command -v python || command -v python3 || true)"; fi
fi
if [[ -z "$PYTHON" ]]; then
  echo "$(basename "$0"): error: no python found: create the repository's .venv (bash ci/setup_env.sh) or set PYTHON" >&2
  exit 2
fi
export PATH="$(dirname "$PYTHON"):$PATH"              # msrun lives next to the interpreter
export GLOG_v="${GLOG_v:-3}"                          # MindSpore's C++ INFO / WARNING lines off
# msrun's scheduler drops a worker whose heartbeat is late; busy CPUs need a longer grace period
export MS_NODE_TIMEOUT="${MS_NODE_TIMEOUT:-600}" MS_RECEIVE_MSG_TIMEOUT="${MS_RECEIVE_MSG_TIMEOUT:-600}"
export MS_CPU_COMM_OP_TIMEOUT="${MS_CPU_COMM_OP_TIMEOUT:-600}"

# msrun_launch N LOG_DIR train.py ARGS...: N data-parallel workers on this node, the scheduler on a free port unless
# MASTER_PORT is set; rank r logs to LOG_DIR/worker_r.log; all workers stop when one fails
msrun_launch() {
  local n="$1" log_dir="$2"; shift 2
  local port="${MASTER_PORT:-$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
  msrun --worker_num="$n" --local_worker_num="$n" --master_port="$port" --log_dir="$log_dir" --join=True "$@"
}
