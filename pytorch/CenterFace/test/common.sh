# Shared argument parsing for test/*.sh (sourced). Every script takes --data_path= (required); logs go to
# test/output/<device_id>/.
set -euo pipefail
# paths given relative to the caller's directory stay valid after the cd into the model folder below
abspath() { case "$1" in /*) printf '%s' "$1" ;; "") ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
cd_model_dir() { cd "$(dirname "${BASH_SOURCE[0]}")/.."; }
data_path=""; device=cpu; device_id=0; device_list=""; nproc=""; output_path=""; extra=()
for para in "$@"; do
    case "$para" in
        --data_path=*) data_path="${para#*=}" ;;
        --device=*) device="${para#*=}" ;;
        --device_id=*) device_id="${para#*=}" ;;
        --device_list=*) device_list="${para#*=}" ;;
        --nproc=*) nproc="${para#*=}" ;;
        --output_path=*) output_path="${para#*=}" ;;
        --help|-h) echo "usage: bash $0 --data_path=DIR [--device=cpu|gpu|npu] [--device_id=N] [--device_list=0,1,..] [--nproc=N] [--output_path=DIR] [extra train.py flags]"; exit 0 ;;
        --resume=auto) extra+=("$para") ;;
        --resume=*|--init_checkpoint=*|--pretrained=*) extra+=("${para%%=*}=$(abspath "${para#*=}")") ;;
        *) extra+=("$para") ;;
    esac
done
if [ -z "$data_path" ]; then
    echo "error: --data_path=DIR is required (WIDER FACE root, see README)" >&2; exit 2
fi
data_path=$(abspath "$data_path"); output_path=$(abspath "$output_path")
cd_model_dir
PYTHON=${PYTHON:-python}
[ -x ../../.venv/bin/python ] && [ "$PYTHON" = python ] && PYTHON=../../.venv/bin/python
if [ ! -d "$data_path" ]; then
    echo "error: --data_path: $data_path is not a directory" >&2; exit 2
fi
log_dir=test/output/${device_id}
mkdir -p "$log_dir"
output_path=${output_path:-$log_dir}
mkdir -p "$output_path"
if [ "$device" = npu ]; then export ASCEND_DEVICE_ID=$device_id; fi
if [ "$device" = gpu ] && [ -z "$device_list" ]; then export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-$device_id}; fi
# number of processes for the 8p scripts: --nproc, else the device list's length, else 8 (2 on cpu)
if [ -z "$nproc" ]; then
    if [ -n "$device_list" ]; then nproc=$(echo "$device_list" | awk -F, '{print NF}');
    elif [ "$device" = cpu ]; then nproc=2; else nproc=8; fi
fi
if [ -n "$device_list" ]; then
    [ "$device" = gpu ] && export CUDA_VISIBLE_DEVICES=$device_list
    [ "$device" = npu ] && export ASCEND_RT_VISIBLE_DEVICES=$device_list
fi
