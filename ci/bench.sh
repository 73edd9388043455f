#!/usr/bin/env bash
# The zoo's benchmarks: every model's tools/benchmark.py (and, with --overfit, its test/train_overfit.sh on the
# overfit set), each figure next to its reference figure in ci/output/bench_summary.{json,md}. Sets up .venv if
# missing. Benchmarks are heavy: on a shared machine pass --lock FILE (each model's run then waits for and holds
# that flock lock).
#   bash ci/bench.sh [--models FaceBoxes,CenterFace] [--overfit] [--device cpu|gpu|npu] [--timeout SECONDS]
#                    [--lock /tmp/zoo_heavy.lock] [--overfit_data DIR]
set -uo pipefail
TOOL=bench
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec "$PY" ci/bench/run_benchmarks.py "$@"
