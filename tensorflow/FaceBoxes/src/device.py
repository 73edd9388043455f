"""Device selection and session configuration (``cpu`` / ``gpu`` / ``npu``), and the Ascend data-parallel path.

A device that is asked for and absent is a ``DeviceError`` (one line, exit 2), never a silent fall-back to the CPU.
``npu_bridge`` (Ascend's TF adapter) is imported only for ``--device npu``. Multi-worker training on CPU and GPU is
``src/distributed.py``; on Ascend, ``RANK_SIZE`` / ``RANK_ID`` processes all-reduce their gradients over HCCL
through ``npu_distributed_optimizer_wrapper`` (the Ascend ModelZoo recipe).
"""
import os

from src.errors import DeviceError
from src.tf_compat import tf


def check_device(device):
    """Raise DeviceError unless ``device`` is usable by this TensorFlow on this machine."""
    if device == "cpu":
        return
    if device == "gpu":
        gpus = tf.config.experimental.list_physical_devices("GPU")
        if not gpus:
            found = ", ".join(d.name.split("physical_device:")[-1]
                              for d in tf.config.experimental.list_physical_devices()) or "nothing"
            why = "" if tf.test.is_built_with_cuda() else ", and this TensorFlow build has no CUDA support"
            raise DeviceError("--device gpu: no GPU visible to TensorFlow (found %s%s; CUDA_VISIBLE_DEVICES=%s)"
                              % (found, why, os.environ.get("CUDA_VISIBLE_DEVICES", "unset")))
        return
    if device == "npu":
        try:
            import npu_bridge  # noqa: F401
            from npu_bridge.estimator import npu_ops  # noqa: F401
        except ImportError:
            raise DeviceError("--device npu: the Ascend TF adapter (npu_bridge) is not installed; found %s"
                              % ("a GPU" if tf.config.experimental.list_physical_devices("GPU") else "a CPU only"))
        return
    raise DeviceError("unknown device %r (cpu, gpu or npu)" % device)


def session_config(device="cpu", precision_mode="allow_mix_precision", threads=None):
    """A tf.ConfigProto for cpu / gpu / npu (Ascend: NpuOptimizer custom op, precision_mode, remapping off).
    threads: intra- and inter-op thread count (default: TensorFlow's choice)."""
    check_device(device)
    config = tf.ConfigProto(allow_soft_placement=True)
    if threads:
        config.intra_op_parallelism_threads = threads
        config.inter_op_parallelism_threads = threads
    if device == "cpu":
        config.device_count["GPU"] = 0
    elif device == "gpu":
        config.gpu_options.allow_growth = True
    else:
        from tensorflow.core.protobuf.rewriter_config_pb2 import RewriterConfig

        custom_op = config.graph_options.rewrite_options.custom_optimizers.add()
        custom_op.name = "NpuOptimizer"
        custom_op.parameter_map["use_off_line"].b = True
        custom_op.parameter_map["precision_mode"].s = tf.compat.as_bytes(precision_mode)
        config.graph_options.rewrite_options.remapping = RewriterConfig.OFF
        config.graph_options.rewrite_options.memory_optimization = RewriterConfig.OFF
    return config


def npu_rank():
    """(RANK_SIZE, RANK_ID) of an Ascend multi-device run (set by test/train_full_8p.sh), (1, 0) otherwise."""
    return int(os.environ.get("RANK_SIZE", "1")), int(os.environ.get("RANK_ID", "0"))


def wrap_optimizer(optimizer, device):
    """On Ascend with RANK_SIZE > 1, all-reduce gradients over HCCL (npu_distributed_optimizer_wrapper)."""
    if device == "npu" and npu_rank()[0] > 1:
        from npu_bridge.npu_init import npu_distributed_optimizer_wrapper

        return npu_distributed_optimizer_wrapper(optimizer)
    return optimizer
