"""tf.data input pipeline over the TFRecord shards (reference schema)."""
import glob
import os

from src.errors import DataError
from src.input_pipeline.augmentations import augment
from src.tf_compat import tf


def find_shards(data_path):
    """Shards in DATA/train_shards/ (the Ascend port's layout) or directly in DATA; clear error if none."""
    if not data_path:
        raise DataError("--data_path is required")
    if not os.path.isdir(data_path):
        raise DataError("%s: data path is not a directory" % data_path)
    for d in (os.path.join(data_path, "train_shards"), data_path):
        files = sorted(glob.glob(os.path.join(d, "*.tfrecords")))
        if files:
            return files
    raise DataError("%s: no *.tfrecords shards found (in it or in its train_shards/); create them with "
                    "python -m src.preparedata.create_tfrecords" % data_path)


def parse_example(serialized):
    features = {
        "filename": tf.FixedLenFeature([], tf.string),
        "image": tf.FixedLenFeature([], tf.string),
        "ymin": tf.VarLenFeature(tf.float32),
        "xmin": tf.VarLenFeature(tf.float32),
        "ymax": tf.VarLenFeature(tf.float32),
        "xmax": tf.VarLenFeature(tf.float32),
    }
    p = tf.parse_single_example(serialized, features)
    image = tf.image.decode_jpeg(p["image"], channels=3)
    image = tf.image.convert_image_dtype(image, tf.float32)
    coords = [tf.sparse_tensor_to_dense(p[k]) for k in ("ymin", "xmin", "ymax", "xmax")]
    boxes = tf.clip_by_value(tf.stack(coords, axis=1), 0.0, 1.0)
    return p["filename"], image, boxes


class Pipeline(object):
    """The training input: an endless, shuffled stream of the shards' records (the shards of this worker's subset
    with data-parallel workers), augmented or resized to image_size, in batches of {'images' [B,H,W,3] float RGB in
    [0,1], 'boxes' [B,max_n,4], 'num_boxes' [B], 'filenames' [B]}. The settings are input_pipeline_params of
    src/config.py; skip = records already consumed (resume)."""

    def __init__(self, filenames, batch_size, image_size, augmentation, shuffle_buffer_size, num_parallel_calls,
                 seed, num_workers=1, worker_index=0, skip=0):
        if not filenames:
            raise DataError("no TFRecord files given")
        image_size = list(image_size)

        def process(serialized):
            name, image, boxes = parse_example(serialized)
            if augmentation:
                image, boxes = augment(image, boxes, image_size)
            else:
                image = tf.image.resize_images(image, image_size, method=tf.image.ResizeMethod.BILINEAR)
            image.set_shape(image_size + [3])
            return image, boxes, tf.shape(boxes)[0], name

        ds = tf.data.Dataset.from_tensor_slices(tf.constant(filenames))
        if num_workers > 1:  # data parallel: every worker reads its own subset of the shards
            if len(filenames) < num_workers:
                raise DataError("%d shards cannot be split over %d workers" % (len(filenames), num_workers))
            ds = ds.shard(num_workers, worker_index)
        ds = ds.shuffle(len(filenames), seed=seed)
        ds = ds.flat_map(tf.data.TFRecordDataset)
        ds = ds.shuffle(shuffle_buffer_size, seed=seed)
        ds = ds.repeat()
        if skip:
            # resume: the record order is a function of the seed only, so skipping the records already consumed
            # (before decoding, so it is cheap) continues the exact stream of an uninterrupted run
            ds = ds.skip(skip)
        ds = ds.map(process, num_parallel_calls=num_parallel_calls)
        ds = ds.padded_batch(batch_size, padded_shapes=(image_size + [3], [None, 4], [], []),
                             drop_remainder=True)
        ds = ds.prefetch(2)
        self.dataset = ds

    def get_batch(self):
        it = tf.data.make_one_shot_iterator(self.dataset)
        images, boxes, num_boxes, names = it.get_next()
        return {"images": images, "boxes": boxes, "num_boxes": num_boxes, "filenames": names}


def diagnose_shards(filenames):
    """Find the first bad record (unparsable Example or incomplete / undecodable image) in the shards, for an error
    message. Returns 'SHARD: record K (FILENAME): what is wrong' or None if every record reads."""
    import cv2
    import numpy as np

    from src.image_io import check_complete

    for path in filenames:
        try:
            for k, rec in enumerate(tf.io.tf_record_iterator(path)):
                try:
                    ex = tf.train.Example.FromString(rec)
                    feat = ex.features.feature
                    name = feat["filename"].bytes_list.value[0].decode("utf-8", "replace")
                    data = feat["image"].bytes_list.value[0]
                except Exception:
                    return "%s: record %d is not a valid tf.train.Example with 'filename' and 'image'" % (path, k)
                where = "%s: record %d (%s)" % (path, k, name)
                try:
                    check_complete(where, data)
                except DataError as e:
                    return "%s: undecodable image (%s)" % (where, str(e)[len(where) + 2:])
                if cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is None:
                    return "%s: undecodable image" % where
                coords = [list(feat[c].float_list.value) for c in ("ymin", "xmin", "ymax", "xmax")]
                if len(set(len(c) for c in coords)) != 1:
                    return "%s: ymin/xmin/ymax/xmax have different lengths" % where
        except tf.errors.DataLossError as e:
            return "%s: corrupt TFRecord file (%s)" % (path, str(e).splitlines()[0])
    return None
