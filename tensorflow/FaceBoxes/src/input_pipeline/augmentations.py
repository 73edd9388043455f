"""Training augmentations with the TropComplique parameters. Images are float32 RGB in [0, 1]; boxes are
normalised (ymin, xmin, ymax, xmax). Every geometric op transforms image and boxes together."""
from src.tf_compat import tf


def _ioa(boxes, window):
    """Intersection of each box with the window over the box area. boxes [N,4], window [4] -> [N]."""
    ymin = tf.maximum(boxes[:, 0], window[0])
    xmin = tf.maximum(boxes[:, 1], window[1])
    ymax = tf.minimum(boxes[:, 2], window[2])
    xmax = tf.minimum(boxes[:, 3], window[3])
    inter = tf.maximum(ymax - ymin, 0.0) * tf.maximum(xmax - xmin, 0.0)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / tf.maximum(area, 1e-8)


def crop_to_window(boxes, window, overlap_thresh=0.4):
    """Boxes for a crop to the normalised window: keep those with IoA >= overlap_thresh, in window coordinates."""
    keep = _ioa(boxes, window) >= overlap_thresh
    boxes = tf.boolean_mask(boxes, keep)
    wh = tf.stack([window[2] - window[0], window[3] - window[1]])
    boxes = (boxes - tf.tile(window[:2], [2])) / tf.tile(wh, [2])
    boxes = tf.clip_by_value(boxes, 0.0, 1.0)
    return boxes


def random_image_crop(image, boxes, probability=0.9, min_object_covered=0.9, aspect_ratio_range=(0.93, 1.07),
                      area_range=(0.4, 0.9), overlap_thresh=0.4, max_attempts=100):
    def crop():
        begin, size, window = tf.image.sample_distorted_bounding_box(
            tf.shape(image), bounding_boxes=tf.expand_dims(boxes, 0), min_object_covered=min_object_covered,
            aspect_ratio_range=aspect_ratio_range, area_range=area_range, max_attempts=max_attempts,
            use_image_if_no_bounding_boxes=True)
        cropped = tf.slice(image, begin, size)
        # the window in exact pixel terms of the crop that was taken
        hw = tf.cast(tf.shape(image)[:2], tf.float32)
        b = tf.cast(begin[:2], tf.float32)
        s = tf.cast(size[:2], tf.float32)
        win = tf.concat([b / hw, (b + s) / hw], axis=0)
        return cropped, crop_to_window(boxes, win, overlap_thresh)

    return tf.cond(tf.random_uniform([]) < probability, crop, lambda: (image, boxes))


def random_color_manipulations(image, probability=0.45, grayscale_probability=0.05):
    def manipulate(img):
        img = tf.image.random_brightness(img, 0.1)
        img = tf.image.random_contrast(img, 0.8, 1.2)
        img = tf.image.random_hue(img, 0.1)
        img = tf.image.random_saturation(img, 0.8, 1.2)
        return tf.clip_by_value(img, 0.0, 1.0)

    def to_gray(img):
        return tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(img))

    image = tf.cond(tf.random_uniform([]) < probability, lambda: manipulate(image), lambda: image)
    return tf.cond(tf.random_uniform([]) < grayscale_probability, lambda: to_gray(image), lambda: image)


def random_pixel_value_scale(image, minval=0.85, maxval=1.15, probability=0.2):
    def scale():
        return tf.clip_by_value(image * tf.random_uniform(tf.shape(image), minval, maxval), 0.0, 1.0)

    return tf.cond(tf.random_uniform([]) < probability, scale, lambda: image)


def random_jitter_boxes(boxes, ratio=0.01):
    """Shift every corner by U(-ratio, ratio) times the box height/width, then clip to [0, 1]."""
    h = boxes[:, 2] - boxes[:, 0]
    w = boxes[:, 3] - boxes[:, 1]
    hw = tf.stack([h, w, h, w], axis=1)
    noise = tf.random_uniform(tf.shape(boxes), -ratio, ratio) * hw
    jittered = tf.clip_by_value(boxes + noise, 0.0, 1.0)
    # keep corners ordered
    ymin = tf.minimum(jittered[:, 0], jittered[:, 2])
    ymax = tf.maximum(jittered[:, 0], jittered[:, 2])
    xmin = tf.minimum(jittered[:, 1], jittered[:, 3])
    xmax = tf.maximum(jittered[:, 1], jittered[:, 3])
    return tf.stack([ymin, xmin, ymax, xmax], axis=1)


def flip_left_right(image, boxes):
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=1)
    return tf.image.flip_left_right(image), tf.stack([ymin, 1.0 - xmax, ymax, 1.0 - xmin], axis=1)


def random_flip_left_right(image, boxes, probability=0.5):
    return tf.cond(tf.random_uniform([]) < probability, lambda: flip_left_right(image, boxes),
                   lambda: (image, boxes))


def augment(image, boxes, image_size, jitter_boxes=True):
    """The full training augmentation: crop, resize, colour, pixel scale, box jitter, flip."""
    image, boxes = random_image_crop(image, boxes)
    image = tf.image.resize_images(image, image_size, method=tf.image.ResizeMethod.BILINEAR)
    image = random_color_manipulations(image)
    image = random_pixel_value_scale(image)
    if jitter_boxes:
        boxes = random_jitter_boxes(boxes)
    image, boxes = random_flip_left_right(image, boxes)
    return image, boxes
