"""Convert the official WIDER FACE layout into sharded TFRecords (the reference schema).

    python -m src.preparedata.create_tfrecords --data_path DATA --split train --output_dir DATA/train_shards \
        [--num_shards 150] [--workers 2]

Each tf.train.Example holds ``filename`` (bytes), ``image`` (the raw JPEG bytes), and ``xmin``, ``xmax``, ``ymin``,
``ymax`` (float lists, normalised to [0, 1]). Boxes with w <= 0 or h <= 0 are dropped; images with 0 faces are kept
(they contribute background only). Every image is checked to decode completely (``src/image_io.py``; a truncated
JPEG is an error naming the file). Shards are named ``shard-%04d.tfrecords`` and are written through a temporary
file and renamed (``src/fileio.py``), so an interrupted run never leaves a truncated shard; the shards of images that
read are written even when another shard has a bad image, and the first bad image is reported.
"""
import argparse
import multiprocessing
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from src.errors import DataError, run_cli  # noqa: E402
from src.image_io import read_image  # noqa: E402
from src.preparedata.wider import read_bbx_gt  # noqa: E402


def load_example_fields(image_path, relname, boxes):
    """Read and check one image; return (jpeg bytes, width, height, normalised boxes [ymin,xmin,ymax,xmax])."""
    height, width = read_image(image_path).shape[:2]   # DataError naming the file unless it decodes completely
    with open(image_path, "rb") as f:
        data = f.read()
    if not data.startswith(b"\xff\xd8"):
        raise DataError("%s: not a JPEG image; the TFRecords hold JPEG bytes (convert it to .jpg)" % image_path)
    norm = []
    for x, y, w, h in boxes:
        if w <= 0 or h <= 0:
            continue
        xmin, ymin = max(x, 0) / width, max(y, 0) / height
        xmax, ymax = min(x + w, width) / width, min(y + h, height) / height
        if xmax <= xmin or ymax <= ymin:
            continue
        norm.append((ymin, xmin, ymax, xmax))
    return data, width, height, norm


def make_example(relname, data, boxes):
    from src.tf_compat import tf

    def floats(v):
        return tf.train.Feature(float_list=tf.train.FloatList(value=v))

    def raw(v):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v]))

    feature = {
        "filename": raw(relname.encode("utf-8")),
        "image": raw(data),
        "ymin": floats([b[0] for b in boxes]),
        "xmin": floats([b[1] for b in boxes]),
        "ymax": floats([b[2] for b in boxes]),
        "xmax": floats([b[3] for b in boxes]),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


def _write_shard(job):
    shard_path, image_dir, items = job
    from src.tf_compat import tf

    from src.fileio import atomic_path

    n_boxes = 0
    try:
        with atomic_path(shard_path) as tmp, tf.io.TFRecordWriter(tmp) as writer:
            for relname, boxes in items:
                data, _, _, norm = load_example_fields(os.path.join(image_dir, relname), relname, boxes)
                writer.write(make_example(relname, data, norm).SerializeToString())
                n_boxes += len(norm)
    except DataError as e:
        return shard_path, len(items), n_boxes, str(e)
    return shard_path, len(items), n_boxes, None


def convert(data_path, split, output_dir, num_shards, workers=2, max_images=None, progress=True):
    split_file = os.path.join(data_path, "wider_face_split", "wider_face_%s_bbx_gt.txt" % split)
    image_dir = os.path.join(data_path, "WIDER_%s" % split, "images")
    if not os.path.isdir(image_dir):
        raise DataError("%s: image folder not found (expected the official WIDER FACE layout)" % image_dir)
    entries = read_bbx_gt(split_file)
    if max_images:
        entries = entries[:max_images]
    if not entries:
        raise DataError("%s: no images listed" % split_file)
    num_shards = max(1, min(num_shards, len(entries)))
    os.makedirs(output_dir, exist_ok=True)
    jobs = []
    for s in range(num_shards):
        items = [(name, boxes) for name, boxes, _ in entries[s::num_shards]]
        jobs.append((os.path.join(output_dir, "shard-%04d.tfrecords" % s), image_dir, items))
    from tqdm import tqdm

    total_images = total_boxes = 0
    errors = []
    bar = tqdm(total=len(entries), desc="WIDER %s -> tfrecords" % split, unit="img", disable=not progress)
    if workers > 1:
        pool = multiprocessing.get_context("spawn").Pool(workers)
        results = pool.imap_unordered(_write_shard, jobs)
    else:
        pool = None
        results = map(_write_shard, jobs)
    try:
        for path, n_img, n_box, err in results:
            bar.update(n_img)
            if err:
                errors.append(err)
            else:
                total_images += n_img
                total_boxes += n_box
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
    if errors:
        raise DataError(errors[0] + ("" if len(errors) == 1 else " (and %d more bad shards)" % (len(errors) - 1)))
    return {"images": total_images, "boxes": total_boxes, "shards": num_shards}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_path", required=True, help="WIDER FACE root (WIDER_train/, WIDER_val/, wider_face_split/)")
    p.add_argument("--split", default="train", choices=["train", "val"])
    p.add_argument("--output_dir", required=True)
    p.add_argument("--num_shards", type=int, default=150)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--max_images", type=int, default=None, help="convert only the first N images (debugging)")
    args = p.parse_args(argv)
    stats = convert(args.data_path, args.split, args.output_dir, args.num_shards, args.workers, args.max_images)
    print("wrote %(images)d images, %(boxes)d boxes into %(shards)d shards" % stats + " in %s" % args.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "create_tfrecords.py"))
