"""Session configuration per device. ``npu_bridge`` is imported only for --device npu."""
import os

from src.tf_compat import tf


class DeviceError(RuntimeError):
    pass


def session_config(device="cpu", precision_mode="allow_mix_precision", threads=None):
    """A tf.ConfigProto for cpu / gpu / npu (Ascend: NpuOptimizer custom op, precision_mode, remapping off).
    threads: intra- and inter-op thread count (default: TensorFlow's choice)."""
    config = tf.ConfigProto(allow_soft_placement=True)
    if threads:
        config.intra_op_parallelism_threads = threads
        config.inter_op_parallelism_threads = threads
    if device == "cpu":
        config.device_count["GPU"] = 0
    elif device == "gpu":
        if not tf.test.is_built_with_cuda():
            raise DeviceError("--device gpu: this TensorFlow build has no CUDA support (tensorflow-cpu?)")
        config.gpu_options.allow_growth = True
    elif device == "npu":
        try:
            import npu_bridge  # noqa: F401
            from npu_bridge.estimator import npu_ops  # noqa: F401
        except ImportError:
            raise DeviceError("--device npu needs the Ascend TF adapter (npu_bridge), which is not installed")
        from tensorflow.core.protobuf.rewriter_config_pb2 import RewriterConfig

        custom_op = config.graph_options.rewrite_options.custom_optimizers.add()
        custom_op.name = "NpuOptimizer"
        custom_op.parameter_map["use_off_line"].b = True
        custom_op.parameter_map["precision_mode"].s = tf.compat.as_bytes(precision_mode)
        config.graph_options.rewrite_options.remapping = RewriterConfig.OFF
        config.graph_options.rewrite_options.memory_optimization = RewriterConfig.OFF
    else:
        raise DeviceError("unknown device %r (cpu, gpu or npu)" % device)
    return config


def npu_rank_size():
    return int(os.environ.get("RANK_SIZE", "1"))


def wrap_optimizer(optimizer, device):
    """On Ascend with RANK_SIZE > 1, all-reduce gradients over HCCL (npu_distributed_optimizer_wrapper)."""
    if device == "npu" and npu_rank_size() > 1:
        from npu_bridge.npu_init import npu_distributed_optimizer_wrapper

        return npu_distributed_optimizer_wrapper(optimizer)
    return optimizer
