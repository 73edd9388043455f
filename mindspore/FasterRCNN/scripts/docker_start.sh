#!/usr/bin/env bash
# The reference's Ascend container: the image built from ../Dockerfile, the 8 davinci devices, the driver and the
# NPU log folders mounted, DATA_DIR and MODEL_DIR mounted at the same paths. Needs an Ascend host (not runnable on
# a CPU or GPU machine).
#   bash scripts/docker_start.sh [DOCKER_IMAGE] [DATA_DIR] [MODEL_DIR]
[[ $# -eq 3 ]] || { echo "usage: bash docker_start.sh [DOCKER_IMAGE] [DATA_DIR] [MODEL_DIR]" >&2; exit 2; }
docker_image=$1
data_dir=$2
model_dir=$3
devices=()
for i in 0 1 2 3 4 5 6 7; do devices+=(--device=/dev/davinci$i); done
docker run -it --ipc=host "${devices[@]}" \
  --device=/dev/davinci_manager --device=/dev/devmm_svm --device=/dev/hisi_hdc --privileged \
  -v /usr/local/Ascend/driver:/usr/local/Ascend/driver \
  -v /usr/local/Ascend/add-ons/:/usr/local/Ascend/add-ons \
  -v "${data_dir}":"${data_dir}" \
  -v "${model_dir}":"${model_dir}" \
  -v /var/log/npu/conf/slog/slog.conf:/var/log/npu/conf/slog/slog.conf \
  -v /var/log/npu/slog/:/var/log/npu/slog/ \
  -v /var/log/npu/profiling/:/var/log/npu/profiling \
  -v /var/log/npu/dump/:/var/log/npu/dump \
  -v /var/log/npu/:/usr/slog "${docker_image}" \
  /bin/bash
