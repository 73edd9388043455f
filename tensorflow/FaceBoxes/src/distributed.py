"""Synchronous data parallelism on TensorFlow's own distributed runtime, for ``--device cpu|gpu``.

Between-graph replication with collective all-reduce (the engine of TF's ``CollectiveAllReduceStrategy``, used
here directly from TF1 graph code): every worker is one process running the same graph on its own copy of the
variables, with a ``tf.train.Server`` of the cluster given by ``TF_CONFIG``; ``CollectiveReduce`` ops in the
graph sum tensors over all workers through that server (gRPC, ring algorithm). The ops exist on TF 1.15 and 2.x and
run under ``MonitoredTrainingSession`` like any other op, so the training loop is the 1-process loop.

What is reduced, so that a step of N workers with batch b each is the 1-process step with batch N*b:

* the gradients, averaged (one packed all-reduce per step);
* the loss normaliser (matched anchors of the whole global batch) and the batch-norm statistics (mean and variance
  over the global batch, two-pass like ``tf.nn.moments``); their gradients are summed back over the workers
  (``sum(..., differentiable=True)``);
* at session start, the chief's variables (fresh or restored) are copied to every worker, after checking that all
  workers run the same configuration from the same step.

Only the chief (worker 0) writes checkpoints, summaries and ``train_log.jsonl``. Ascend keeps its own HCCL path
(``src/device.py``). With one worker every reduction is the identity and no server is started.

``TF_CONFIG`` (TensorFlow's standard)::

    {"cluster": {"worker": ["host0:port", "host1:port", ...]}, "task": {"type": "worker", "index": i}}
"""
import json
import os

from src.errors import ConfigError
from src.tf_compat import tf

GROUP_KEY = 1
_BACKWARD = 1 << 20          # instance key offset of the gradient of a differentiable sum


class Cluster(object):
    """The workers of ``TF_CONFIG`` and this process's index among them (0 = the chief)."""

    def __init__(self, workers, index):
        self.workers, self.index = list(workers), int(index)
        self.num_workers = len(self.workers)
        self.is_chief = self.index == 0
        self.device = "/job:worker/task:%d" % self.index

    @classmethod
    def from_environ(cls, environ=None):
        """The cluster of ``$TF_CONFIG``, or None when it is unset or names a single worker."""
        text = (environ if environ is not None else os.environ).get("TF_CONFIG", "").strip()
        if not text:
            return None
        try:
            spec = json.loads(text)
            workers = spec["cluster"]["worker"]
            task = spec.get("task", {})
            kind, index = task.get("type", "worker"), int(task.get("index", 0))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ConfigError("TF_CONFIG: expected {\"cluster\": {\"worker\": [\"host:port\", ...]}, \"task\": "
                              "{\"type\": \"worker\", \"index\": i}} (%s)" % (e,)) from None
        other = sorted(set(spec["cluster"]) - {"worker"})
        if other or kind != "worker":
            raise ConfigError("TF_CONFIG: only a 'worker' job is supported (worker 0 is the chief), got %s"
                              % ", ".join(other or [kind]))
        if not isinstance(workers, list) or not workers or not all(isinstance(w, str) and ":" in w for w in workers):
            raise ConfigError("TF_CONFIG: cluster.worker must be a list of \"host:port\" strings, got %r" % (workers,))
        if not 0 <= index < len(workers):
            raise ConfigError("TF_CONFIG: task index %d is not one of the %d workers" % (index, len(workers)))
        return None if len(workers) == 1 else cls(workers, index)

    def configure(self, session_config):
        """Add what collective ops need to a ``tf.ConfigProto``: the group leader (the chief) and a device filter
        that keeps this worker's session to its own devices."""
        session_config.experimental.collective_group_leader = "/job:worker/replica:0/task:0"
        del session_config.device_filters[:]
        session_config.device_filters.append(self.device)
        return session_config

    def start_server(self, session_config):
        """Start this worker's gRPC server; returns it (keep a reference while training)."""
        spec = tf.train.ClusterSpec({"worker": self.workers})
        try:
            return tf.train.Server(spec, job_name="worker", task_index=self.index, config=session_config, start=True)
        except tf.errors.OpError as e:  # e.g. the port is taken
            raise ConfigError("TF_CONFIG: cannot start worker %d on %s (%s)"
                              % (self.index, self.workers[self.index], str(e.message).splitlines()[0])) from None


class Replicas(object):
    """Sums over the workers of a synchronous step, as ops of the current graph.

    Every worker must create the same reductions in the same order (they are matched by instance key), which holds
    because every worker builds the same graph. ``Replicas()`` (one worker) makes every reduction the identity."""

    def __init__(self, num_workers=1, index=0):
        self.num_workers, self.index = int(num_workers), int(index)
        self.is_chief = self.index == 0
        self._next_key = 1
        self._used = set()

    def _reduce(self, x, key, merge_op="Add"):
        if key in self._used:
            raise RuntimeError("collective instance key %d used twice (gradients built twice?)" % key)
        self._used.add(key)
        return tf.raw_ops.CollectiveReduce(input=x, group_size=self.num_workers, group_key=GROUP_KEY,
                                           instance_key=key, merge_op=merge_op, final_op="Id", subdiv_offsets=[0])

    def _key(self):
        key = self._next_key
        self._next_key += 1
        if key >= _BACKWARD:
            raise RuntimeError("too many collective reductions in one graph")
        return key

    def sum(self, x, differentiable=False):
        """The sum of ``x`` over all workers (``x`` itself with one worker). With ``differentiable`` the gradient
        with respect to ``x`` is the sum of the workers' upstream gradients (the total derivative of the sum of the
        workers' losses), else no gradient flows."""
        if self.num_workers == 1:
            return x
        key = self._key()
        if not differentiable:
            return self._reduce(tf.stop_gradient(x), key)

        @tf.custom_gradient
        def all_sum(v):
            def grad(dy):
                return self._reduce(dy, key + _BACKWARD)
            return self._reduce(v, key), grad

        return all_sum(x)

    def extreme(self, x, merge_op):
        """Max or Min of ``x`` over all workers (no gradient)."""
        return x if self.num_workers == 1 else self._reduce(tf.stop_gradient(x), self._key(), merge_op)

    def average_gradients(self, grads_and_vars):
        """Gradients averaged over the workers: one all-reduce of all gradients packed into one vector."""
        if self.num_workers == 1:
            return grads_and_vars
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        flat = tf.concat([tf.reshape(g, [-1]) for g, _ in pairs], axis=0)
        mean = self.sum(flat) / float(self.num_workers)
        sizes = [g.shape.num_elements() for g, _ in pairs]
        parts = tf.split(mean, sizes)
        return [(tf.reshape(p, tf.shape(g)), v) for p, (g, v) in zip(parts, pairs)]

    def sync_from_chief(self, variables, fingerprint):
        """An op that copies the chief's values of ``variables`` to every worker, and a check tensor pair (min, max
        of ``fingerprint`` over the workers; they differ when the workers' settings differ). None with one worker."""
        if self.num_workers == 1:
            return None, None
        ops = []
        mine = tf.constant(1.0 if self.is_chief else 0.0)
        by_dtype = {}
        for v in variables:
            by_dtype.setdefault(v.dtype.base_dtype, []).append(v)
        for dtype, vs in sorted(by_dtype.items(), key=lambda kv: kv[0].name):
            if dtype not in (tf.float32, tf.float64, tf.int32, tf.int64):
                continue
            flat = tf.concat([tf.reshape(v.read_value() if hasattr(v, "read_value") else v, [-1]) for v in vs], 0)
            chief_values = self.sum(flat * tf.cast(mine, dtype))
            parts = tf.split(chief_values, [v.shape.num_elements() for v in vs])
            ops += [tf.assign(v, tf.reshape(p, v.shape)) for p, v in zip(parts, vs)]
        fp = tf.constant(fingerprint, tf.int64)
        return tf.group(*ops), (self.extreme(fp, "Min"), self.extreme(fp, "Max"))


class SyncFromChiefHook(tf.train.SessionRunHook):
    """Runs the chief-to-workers copy once, right after the session is created (before the first step)."""

    def __init__(self, sync_op, fingerprints):
        self.sync_op, self.fingerprints = sync_op, fingerprints

    def after_create_session(self, session, coord):
        lo, hi = session.run(self.fingerprints)
        if lo != hi:
            raise ConfigError("the workers run different settings or start from different steps: start every worker "
                              "with the same command, and let every worker see --output_path to resume")
        session.run(self.sync_op)
