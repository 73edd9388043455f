"""FaceBoxes network: RDCL + MSCL feature extractor and the box/class heads.

Variables are created with ``tf.get_variable`` under the TropComplique scope names (``conv1/weights``,
``conv1/batch_norm/gamma``, ``inception1/conv_1x1_path1/...``, ``prediction_layers/class_predictor_0/biases``), NHWC.
The architecture differences between TropComplique's network and FaceBoxes.PyTorch are options of the one model
configuration (see ``src/config.py``): padding mode, inception pooling branch, BN epsilon.
"""
import numpy as np

from src.config import BGR_MEANS, NUM_ANCHORS_PER_LOCATION
from src.tf_compat import tf


def preprocess(images, cfg):
    """images: float32 [B,H,W,3] RGB in [0,1] -> the network's input normalisation."""
    if cfg["preprocessing"] == "rgb_unit":
        return 2.0 * images - 1.0
    bgr = tf.reverse(images * 255.0, axis=[3])
    return bgr - tf.constant(BGR_MEANS, tf.float32)


class _Builder(object):
    def __init__(self, cfg, is_training, replicas=None):
        self.cfg = cfg
        self.is_training = is_training
        self.replicas = replicas

    # -- primitives -----------------------------------------------------------------------------------------------
    def _pad(self, x, k, value=0.0):
        p = k // 2
        return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], constant_values=value)

    def conv(self, x, filters, k, stride=1, use_bias=False, bias_init=None):
        cin = x.shape.as_list()[-1]
        w = tf.get_variable("weights", [k, k, cin, filters], tf.float32,
                            initializer=tf.glorot_uniform_initializer())
        if self.cfg["padding"] == "symmetric" and k > 1:
            y = tf.nn.conv2d(self._pad(x, k), w, [1, stride, stride, 1], "VALID")
        else:
            y = tf.nn.conv2d(x, w, [1, stride, stride, 1], "SAME")
        if use_bias:
            init = tf.zeros_initializer() if bias_init is None else tf.constant_initializer(bias_init)
            b = tf.get_variable("biases", [filters], tf.float32, initializer=init)
            y = tf.nn.bias_add(y, b)
        return y

    def batch_norm(self, x):
        """BN with center+scale; moving statistics updated through UPDATE_OPS (momentum from the config)."""
        c = x.shape.as_list()[-1]
        eps = self.cfg["bn_epsilon"]
        momentum = self.cfg["bn_momentum"]
        with tf.variable_scope("batch_norm"):
            gamma = tf.get_variable("gamma", [c], initializer=tf.ones_initializer())
            beta = tf.get_variable("beta", [c], initializer=tf.zeros_initializer())
            moving_mean = tf.get_variable("moving_mean", [c], initializer=tf.zeros_initializer(), trainable=False)
            moving_var = tf.get_variable("moving_variance", [c], initializer=tf.ones_initializer(), trainable=False)
            if self.is_training:
                mean, var, n = self.moments(x)
                # the moving variance gets the unbiased estimate, as TF's fused batch norm does
                unbiased = var * n / tf.maximum(n - 1.0, 1.0)
                upd_mean = tf.assign_sub(moving_mean, (1.0 - momentum) * (moving_mean - mean))
                upd_var = tf.assign_sub(moving_var, (1.0 - momentum) * (moving_var - unbiased))
                tf.add_to_collection(tf.GraphKeys.UPDATE_OPS, upd_mean)
                tf.add_to_collection(tf.GraphKeys.UPDATE_OPS, upd_var)
            else:
                mean, var = moving_mean, moving_var
            return tf.nn.batch_normalization(x, mean, var, beta, gamma, eps)

    def moments(self, x):
        """Batch mean and (biased) variance over N, H, W, and the count. With several data-parallel workers they are
        those of the global batch (sums over the workers, two passes like tf.nn.moments), so that N workers with
        batch b train exactly as one process with batch N*b."""
        n = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), tf.float32)
        r = self.replicas
        if r is None or r.num_workers == 1:
            mean, var = tf.nn.moments(x, [0, 1, 2])
            return mean, var, n
        total = r.sum(tf.concat([tf.reduce_sum(x, [0, 1, 2]), n[None]], 0), differentiable=True)
        n = tf.stop_gradient(total[-1])
        mean = total[:-1] / n
        sq = tf.reduce_sum(tf.squared_difference(x, tf.stop_gradient(mean)), [0, 1, 2])
        return mean, r.sum(sq, differentiable=True) / n, n

    def conv_bn(self, x, scope, filters, k, stride=1, act="relu"):
        with tf.variable_scope(scope):
            y = self.batch_norm(self.conv(x, filters, k, stride))
            if act == "crelu":
                return tf.concat([tf.nn.relu(y), tf.nn.relu(-y)], axis=3)
            return tf.nn.relu(y)

    def max_pool(self, x, k, stride):
        if self.cfg["padding"] == "symmetric":
            x = self._pad(x, k, value=-np.inf)
            return tf.nn.max_pool(x, [1, k, k, 1], [1, stride, stride, 1], "VALID")
        return tf.nn.max_pool(x, [1, k, k, 1], [1, stride, stride, 1], "SAME")

    def inception(self, x, scope):
        with tf.variable_scope(scope):
            x1 = self.conv_bn(x, "conv_1x1_path1", 32, 1)
            if self.cfg["inception_pool"] == "max":
                y = tf.nn.max_pool(x, [1, 3, 3, 1], [1, 1, 1, 1], "SAME")
            else:  # average pool that counts the zero padding (PyTorch count_include_pad=True)
                y = tf.nn.avg_pool(self._pad(x, 3), [1, 3, 3, 1], [1, 1, 1, 1], "VALID")
            x2 = self.conv_bn(y, "conv_1x1_path2", 32, 1)
            y = self.conv_bn(x, "conv_1x1_path3", 24, 1)
            x3 = self.conv_bn(y, "conv_3x3_path3", 32, 3)
            y = self.conv_bn(x, "conv_1x1_path4", 24, 1)
            y = self.conv_bn(y, "conv_3x3_path4", 32, 3)
            x4 = self.conv_bn(y, "conv_3x3_second_path4", 32, 3)
            return tf.concat([x1, x2, x3, x4], axis=3)


def feature_extractor(x, cfg, is_training, replicas=None):
    """x: normalised input [B,H,W,3]. Returns the three feature maps (strides 32, 64, 128). ``replicas``
    (src/distributed.py) makes the training batch statistics those of all data-parallel workers."""
    b = _Builder(cfg, is_training, replicas)
    x = b.conv_bn(x, "conv1", 24, 7, stride=4, act="crelu")
    x = b.max_pool(x, 3, 2)
    x = b.conv_bn(x, "conv2", 64, 5, stride=2, act="crelu")
    x = b.max_pool(x, 3, 2)
    x = b.inception(x, "inception1")
    x = b.inception(x, "inception2")
    x = b.inception(x, "inception3")
    f0 = x
    x = b.conv_bn(x, "conv3_1", 128, 1)
    x = b.conv_bn(x, "conv3_2", 256, 3, stride=2)
    f1 = x
    x = b.conv_bn(x, "conv4_1", 128, 1)
    x = b.conv_bn(x, "conv4_2", 256, 3, stride=2)
    f2 = x
    return [f0, f1, f2]


def prediction_heads(feature_maps, cfg):
    """3x3 box and class convs on each map, reshaped [B,H,W,A,k] -> [B,H*W*A,k] and concatenated.

    Returns box_encodings [B,N,4] in the order (ty, tx, th, tw) and class logits [B,N,2] (background, face).
    """
    b = _Builder(cfg, is_training=False)
    boxes, logits = [], []
    with tf.variable_scope("prediction_layers"):
        for i, (x, a) in enumerate(zip(feature_maps, NUM_ANCHORS_PER_LOCATION)):
            with tf.variable_scope("box_encoding_predictor_%d" % i):
                y = b.conv(x, a * 4, 3, use_bias=True)
            bias = np.zeros([a, 2], np.float32)
            bias[:, 0] = np.log(0.99)
            bias[:, 1] = np.log(0.01)
            with tf.variable_scope("class_predictor_%d" % i):
                z = b.conv(x, a * 2, 3, use_bias=True, bias_init=bias.reshape(-1))
            shape = tf.shape(x)
            n = shape[1] * shape[2] * a
            boxes.append(tf.reshape(y, tf.stack([shape[0], n, 4])))
            logits.append(tf.reshape(z, tf.stack([shape[0], n, 2])))
    return tf.concat(boxes, axis=1), tf.concat(logits, axis=1)
