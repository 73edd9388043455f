"""Detector (TropComplique's builder name): the FaceBoxes graph on a batch of images: padding, network, anchors,
post-processing and the training loss. ``src/inference.py``'s ``Predictor`` runs it on one image."""
from src.anchors import generate_anchors
from src.box_utils import decode
from src.config import MATCHING_THRESHOLD
from src.losses_and_ohem import apply_hard_mining, classification_loss, localization_loss
from src.network import feature_extractor, prediction_heads, preprocess
from src.tf_compat import tf
from src.training_target_creation import get_training_targets


class Detector(object):
    def __init__(self, images, cfg, is_training, replicas=None):
        """images: float32 [B,H,W,3] RGB in [0,1] (any H, W). cfg: the architecture (``config["architecture"]``,
        src/config.py). replicas: the data-parallel workers (src/distributed.py) whose batches make one global batch
        for the batch-norm statistics and the loss normaliser; None for one process."""
        self.cfg = cfg
        self.is_training = is_training
        self.replicas = replicas
        shape = tf.shape(images)
        h, w = shape[1], shape[2]
        m = cfg["pad_multiple"]
        self.box_scaler = tf.ones([4], tf.float32)
        if m > 1:
            with tf.name_scope("image_padding"):
                new_h = m * ((h + m - 1) // m)
                new_w = m * ((w + m - 1) // m)
                # boxes normalised to the padded image are divided by this to refer to the original image
                self.box_scaler = tf.cast(tf.stack([h / new_h, w / new_w, h / new_h, w / new_w]), tf.float32)
                images = tf.pad(images, [[0, 0], [0, new_h - h], [0, new_w - w], [0, 0]])
                h, w = new_h, new_w
        with tf.name_scope("standardize_input"):
            x = preprocess(images, cfg)
        self.network_input = x
        self.build_from_normalized(x, (h, w))

    @classmethod
    def from_normalized_input(cls, x, cfg):
        """Build on an already normalised (and padded) input [B,H,W,3]; used by the parity tests."""
        self = cls.__new__(cls)
        self.cfg, self.is_training, self.replicas = cfg, False, None
        self.box_scaler = tf.ones([4], tf.float32)
        self.network_input = x
        self.build_from_normalized(x, (tf.shape(x)[1], tf.shape(x)[2]))
        return self

    def build_from_normalized(self, x, image_size):
        features = feature_extractor(x, self.cfg, self.is_training, self.replicas)
        self.feature_maps = features
        grids = [(tf.shape(f)[1], tf.shape(f)[2]) for f in features]
        self.anchors = generate_anchors(grids, image_size, self.cfg["anchor_style"])
        self.box_encodings, self.class_predictions_with_background = prediction_heads(features, self.cfg)

    # -- inference --------------------------------------------------------------------------------------------------
    def get_predictions(self, score_threshold, iou_threshold, max_boxes):
        """Score filter, then NMS per image (the values are ``model_params`` of src/config.py). Returns boxes [B, max_boxes, 4] (ymin,xmin,ymax,xmax normalised to the original image, zero padded),
        scores [B, max_boxes], num_boxes [B]."""
        with tf.name_scope("postprocessing"):
            boxes = decode(self.box_encodings, self.anchors) / self.box_scaler
            if self.cfg["clip_boxes"]:
                boxes = tf.clip_by_value(boxes, 0.0, 1.0)
            scores = tf.nn.softmax(self.class_predictions_with_background, axis=2)[:, :, 1]
        self.decoded_boxes, self.scores = boxes, scores

        def nms_one(x):
            b, s = x
            keep = s >= score_threshold
            b, s = tf.boolean_mask(b, keep), tf.boolean_mask(s, keep)
            idx = tf.image.non_max_suppression(b, s, max_boxes, iou_threshold)
            b, s = tf.gather(b, idx), tf.gather(s, idx)
            n = tf.size(idx)
            b = tf.pad(b, [[0, max_boxes - n], [0, 0]])
            s = tf.pad(s, [[0, max_boxes - n]])
            return b, s, n

        with tf.name_scope("nms"):
            b, s, n = tf.map_fn(nms_one, [boxes, scores], dtype=(tf.float32, tf.float32, tf.int32),
                                back_prop=False)
        return {"boxes": b, "scores": s, "num_boxes": n}

    # -- training ---------------------------------------------------------------------------------------------------
    def create_targets(self, groundtruth):
        def fn(x):
            boxes, num = x
            boxes = boxes[:num] * self.box_scaler
            return get_training_targets(self.anchors, boxes, MATCHING_THRESHOLD)

        with tf.name_scope("target_creation"):
            return tf.map_fn(fn, [groundtruth["boxes"], groundtruth["num_boxes"]],
                             dtype=(tf.float32, tf.int32), back_prop=False)

    def loss(self, groundtruth, params):
        """groundtruth: {'boxes': [B, max_n, 4] normalised ymin,xmin,ymax,xmax, 'num_boxes': [B]}.

        Returns {'localization_loss', 'classification_loss'}, each the mined sum over the batch divided by
        max(1, number of matched anchors in the batch). With data-parallel workers the normaliser counts the matched
        anchors of the global batch, so the workers' returned losses add up to the loss of the global batch.
        """
        reg_targets, matches = self.create_targets(groundtruth)
        self.matches = matches
        with tf.name_scope("losses"):
            is_matched = matches >= 0
            weights = tf.cast(is_matched, tf.float32)
            cls_losses = classification_loss(self.class_predictions_with_background, tf.cast(is_matched, tf.int32))
            loc_losses = localization_loss(self.box_encodings, reg_targets, weights)
            num_matches = tf.reduce_sum(weights)
            if self.replicas is not None:
                num_matches = self.replicas.sum(num_matches)
            normalizer = tf.maximum(num_matches, 1.0)
            tf.summary.scalar("mean_matches_per_image", tf.reduce_mean(tf.reduce_sum(weights, axis=1)))
            decoded = tf.stop_gradient(decode(self.box_encodings, self.anchors) / self.box_scaler)
            with tf.name_scope("ohem"):
                loc, cls = apply_hard_mining(
                    loc_losses, cls_losses, matches, decoded,
                    loss_to_use=params["loss_to_use"], loc_loss_weight=params["loc_loss_weight"],
                    cls_loss_weight=params["cls_loss_weight"], num_hard_examples=params["num_hard_examples"],
                    nms_threshold=params["nms_threshold"],
                    max_negatives_per_positive=params["max_negatives_per_positive"],
                    min_negatives_per_image=params["min_negatives_per_image"])
            return {"localization_loss": loc / normalizer, "classification_loss": cls / normalizer}


def count_parameters(architecture):
    """Learnable weights of the network (kernels, biases, BN gamma / beta), as FaceBoxes.PyTorch counts them."""
    with tf.Graph().as_default():
        Detector(tf.placeholder(tf.float32, [1, None, None, 3]), architecture, is_training=False)
        return int(sum(v.shape.num_elements() for v in tf.trainable_variables()))
