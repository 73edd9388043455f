"""Assemble smoke_result.json (the zoo's smoke-harness contract) from a training log and an eval result."""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def count_params(preset="tropcomplique"):
    """Trainable parameters of the network (weights, biases, BN gamma/beta)."""
    from src.config import model_config
    from src.detector import Detector
    from src.tf_compat import tf

    with tf.Graph().as_default():
        Detector(tf.placeholder(tf.float32, [1, 256, 256, 3]), model_config(preset), is_training=False)
        return int(sum(v.shape.num_elements() for v in tf.trainable_variables()))


def main(argv=None):
    from src.config import num_anchors
    from tools.train_throughput import throughput

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--train_log", required=True)
    p.add_argument("--eval_result", required=True)
    p.add_argument("--batch_size", type=int, required=True)
    p.add_argument("--output", required=True)
    a = p.parse_args(argv)
    t = throughput(a.train_log, a.batch_size, skip=1)
    with open(a.eval_result) as f:
        ev = json.load(f)
    res = {"steps": t["steps"], "loss_first": t["loss_first"], "loss_last": t["loss_last"],
           "sec_per_step": t["sec_per_step"], "params": count_params(), "anchors": num_anchors(1024, 1024),
           "ap": ev["ap"]}
    from src.io_utils import write_json_atomic

    write_json_atomic(a.output, res, indent=None)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
