"""Checkpoint helpers: every checkpoint carries its model configuration as the string variable ``model_config``."""
import json
import os

from src.config import validate_model_config
from src.tf_compat import tf

CONFIG_VARIABLE = "model_config"


class CheckpointError(Exception):
    pass


def add_model_config_variable(cfg):
    """Create the (non-trainable) variable holding the model configuration as JSON."""
    return tf.get_variable(CONFIG_VARIABLE, initializer=tf.constant(json.dumps(cfg, sort_keys=True)),
                           trainable=False)


def resolve_checkpoint(path):
    """A checkpoint prefix, or a directory holding checkpoints (the latest is used) -> prefix."""
    if path is None:
        raise CheckpointError("no checkpoint given")
    if os.path.isdir(path):
        prefix = tf.train.latest_checkpoint(path)
        if prefix is None:
            raise CheckpointError("%s: directory holds no TensorFlow checkpoint" % path)
        return prefix
    if os.path.isfile(path + ".index"):
        return path
    if path.endswith(".index") and os.path.isfile(path):
        return path[: -len(".index")]
    raise CheckpointError("%s: not a checkpoint (expected a prefix with a .index file, or a directory)" % path)


def read_model_config(prefix):
    """Read the model configuration stored in a checkpoint."""
    try:
        raw = tf.train.load_variable(prefix, CONFIG_VARIABLE)
    except Exception as e:  # NotFoundError, DataLossError, ...
        raise CheckpointError("%s: cannot read the model configuration from the checkpoint (%s)"
                              % (prefix, str(e).splitlines()[0]))
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return validate_model_config(json.loads(raw))
