"""Export a checkpoint as a SavedModel and as a frozen graph (the reference's save.py + create_pb.py in one), and
check that both give the checkpoint's detections.

    python export.py --checkpoint CKPT --output_dir export/ [--check_image IMG] [--score_threshold S]
                     [--iou_threshold T] [--max_boxes N]

Writes OUTPUT_DIR/saved_model/ (signature 'serving_default': input 'images' -> 'boxes', 'scores', 'num_boxes') and
OUTPUT_DIR/model.pb (frozen; input tensor 'image_tensor:0' uint8 [N,H,W,3] RGB; outputs 'boxes:0' [N,max_boxes,4]
normalised (ymin, xmin, ymax, xmax), 'scores:0', 'num_boxes:0'), which ``Predictor("model.pb")`` (src/inference.py)
runs. The post-processing settings are the checkpoint's unless given. Parity check: the SavedModel and the frozen
graph are run on --check_image (default: a generated 480x640 test pattern) and must give the checkpoint's outputs.
"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from src.errors import ConfigError, run_cli  # noqa: E402

PARITY_ATOL = 1e-4   # normalised box coordinates and scores


def export(checkpoint, output_dir, score_threshold=None, iou_threshold=None, max_boxes=None):
    """Write OUTPUT_DIR/saved_model/ and OUTPUT_DIR/model.pb; returns their paths."""
    from src.checkpoint import read_config, resolve_checkpoint
    from src.config import from_dict
    from src.fileio import write_bytes_atomic
    from src.inference import OUTPUT_NAMES, build_inference_graph
    from src.tf_compat import tf

    prefix = resolve_checkpoint(checkpoint)
    overrides = {k: v for k, v in (("score_threshold", score_threshold), ("iou_threshold", iou_threshold),
                                   ("max_boxes", max_boxes)) if v is not None}
    cfg = from_dict({"model_params": overrides}, source="export.py", base=read_config(prefix))
    os.makedirs(output_dir, exist_ok=True)
    sm_dir = os.path.join(output_dir, "saved_model")
    with tf.Graph().as_default() as graph:
        image_tensor, outputs = build_inference_graph(cfg)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            saver.restore(sess, prefix)
            tmp = sm_dir + ".partial"
            if os.path.exists(tmp):
                shutil.rmtree(tmp)
            builder = tf.saved_model.builder.SavedModelBuilder(tmp)
            sig = tf.saved_model.signature_def_utils.predict_signature_def(
                inputs={"images": image_tensor}, outputs=outputs)
            builder.add_meta_graph_and_variables(sess, [tf.saved_model.tag_constants.SERVING],
                                                 signature_def_map={"serving_default": sig})
            builder.save()
            if os.path.exists(sm_dir):  # the folder is replaced only by a complete one
                shutil.rmtree(sm_dir)
            os.replace(tmp, sm_dir)
            frozen = tf.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), list(OUTPUT_NAMES))
    pb = write_bytes_atomic(os.path.join(output_dir, "model.pb"), frozen.SerializeToString())
    return sm_dir, pb


def parity_image(h=480, w=640):
    """A deterministic BGR test image: smooth gradients with bright and dark discs (face-sized blobs)."""
    import cv2
    import numpy as np

    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (h + w)], -1).astype(np.uint8)
    for k, (cx, cy, r) in enumerate(((160, 200, 60), (420, 240, 90), (560, 110, 35))):
        cv2.circle(img, (cx, cy), r, (200, 180, 170) if k % 2 == 0 else (40, 50, 60), -1)
    return img


def check_parity(checkpoint, output_dir, image, score_threshold=None, iou_threshold=None, max_boxes=None):
    """Largest |difference| of the SavedModel's and the frozen graph's raw outputs (normalised boxes, scores) from
    the checkpoint's on one image; raises when it exceeds PARITY_ATOL."""
    import numpy as np

    from src.inference import OUTPUT_NAMES, Predictor
    from src.tf_compat import tf

    rgb = np.ascontiguousarray(image[:, :, ::-1])
    want = Predictor(checkpoint, score_threshold, iou_threshold, max_boxes).raw_outputs(rgb)
    got = {"model.pb": Predictor(os.path.join(output_dir, "model.pb")).raw_outputs(rgb)}
    with tf.Graph().as_default(), tf.Session() as sess:
        meta = tf.saved_model.loader.load(sess, ["serve"], os.path.join(output_dir, "saved_model"))
        sig = meta.signature_def["serving_default"]
        got["saved_model"] = sess.run({k: sig.outputs[k].name for k in OUTPUT_NAMES},
                                      {sig.inputs["images"].name: rgb[None]})
    worst = {}
    for name, out in got.items():
        if int(out["num_boxes"][0]) != int(want["num_boxes"][0]):
            raise RuntimeError("export parity: %s finds %d boxes, the checkpoint %d"
                               % (name, out["num_boxes"][0], want["num_boxes"][0]))
        worst[name] = max(float(np.abs(out[k] - want[k]).max()) for k in ("boxes", "scores"))
        if worst[name] > PARITY_ATOL:
            raise RuntimeError("export parity: %s differs from the checkpoint by %.2g" % (name, worst[name]))
    return int(want["num_boxes"][0]), worst


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--output_dir", default=None)
    p.add_argument("--check_image", default=None, help="image for the parity check (default: a test pattern)")
    p.add_argument("--score_threshold", type=float, default=None, help="default: the checkpoint's (0.05)")
    p.add_argument("--iou_threshold", type=float, default=None, help="default: the checkpoint's (0.3)")
    p.add_argument("--max_boxes", type=int, default=None, help="default: the checkpoint's (200)")
    args = p.parse_args(argv)
    if not args.checkpoint or not args.output_dir:
        raise ConfigError("--checkpoint and --output_dir are required")
    from src.image_io import read_image

    image = read_image(args.check_image) if args.check_image else parity_image()
    sm, pb = export(args.checkpoint, args.output_dir, args.score_threshold, args.iou_threshold, args.max_boxes)
    n, worst = check_parity(args.checkpoint, args.output_dir, image, args.score_threshold, args.iou_threshold,
                            args.max_boxes)
    print("SavedModel: %s\nfrozen graph: %s" % (sm, pb))
    print("parity on %s (%d boxes): max |difference| from the checkpoint %s" % (
        args.check_image or "the test pattern", n, ", ".join("%s %.1e" % kv for kv in sorted(worst.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "export.py"))
