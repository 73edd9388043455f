# Shared argument parsing for the test/*.sh scripts (sourced).
# Sets: data_path output_path steps device batch_size image_size extra_args; cd's to the model folder.
cur_path="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$cur_path" || exit 1
data_path=""
output_path=""
steps=""
device="cpu"
batch_size=""
image_size=""
extra_args=""
for para in "$@"; do
    case "$para" in
        --data_path=*) data_path="${para#*=}" ;;
        --output_path=*) output_path="${para#*=}" ;;
        --steps=*|--train_steps=*|--step=*) steps="${para#*=}" ;;
        --device=*) device="${para#*=}" ;;
        --batch_size=*) batch_size="${para#*=}" ;;
        --image_size=*) image_size="${para#*=}" ;;
        --precision_mode=*) extra_args="$extra_args --precision_mode=${para#*=}" ;;
        -h|--help) echo "usage: bash $0 --data_path=DIR [--output_path=DIR] [--steps=N] [--device=cpu|gpu|npu] [--batch_size=B] [--image_size=S]"; exit 0 ;;
        *) echo "error: unknown argument '$para'" >&2; exit 2 ;;
    esac
done
if [ -z "$data_path" ]; then
    echo "error: --data_path=DIR is required (WIDER FACE root, or a folder with *.tfrecords shards)" >&2
    exit 2
fi
if [ ! -d "$data_path" ]; then
    echo "error: --data_path=$data_path is not a directory" >&2
    exit 2
fi
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
    if [ -x "$cur_path/../../.venv/bin/python" ]; then PYTHON="$cur_path/../../.venv/bin/python"; else PYTHON=python3; fi
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
mkdir -p "$cur_path/test/output"

# prepare_shards DATA OUT_DIR: echo a folder that holds training shards (converting a WIDER layout if needed)
prepare_shards() {
    local d="$1" out="$2"
    if ls "$d"/*.tfrecords >/dev/null 2>&1 || ls "$d"/train_shards/*.tfrecords >/dev/null 2>&1; then
        echo "$d"; return 0
    fi
    if [ -d "$d/WIDER_train/images" ]; then
        if ! ls "$out"/*.tfrecords >/dev/null 2>&1; then
            "$PYTHON" -m src.preparedata.create_tfrecords --data_path="$d" --split=train --output_dir="$out" \
                --num_shards="${NUM_SHARDS:-150}" --workers=2 >&2 || return 1
        fi
        echo "$out"; return 0
    fi
    echo "error: $d holds neither *.tfrecords shards nor the WIDER FACE layout (WIDER_train/images)" >&2
    return 1
}
