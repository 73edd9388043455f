"""Export a checkpoint as a SavedModel and as a frozen graph (the reference's save.py + create_pb.py in one).

    python export.py --checkpoint CKPT --output_dir export/ [--score_threshold 0.05] [--iou_threshold 0.3]
                     [--max_boxes 200]

Writes OUTPUT_DIR/saved_model/ (signature 'serving_default': input 'images' -> 'boxes', 'scores', 'num_boxes') and
OUTPUT_DIR/model.pb (frozen; input tensor 'image_tensor:0' uint8 [N,H,W,3] RGB; outputs 'boxes:0' [N,max_boxes,4]
normalised (ymin, xmin, ymax, xmax), 'scores:0', 'num_boxes:0'), loadable with src.face_detector.FaceDetector.
"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def export(checkpoint, output_dir, score_threshold=0.05, iou_threshold=0.3, max_boxes=200):
    from src.checkpoint_utils import read_model_config, resolve_checkpoint
    from src.inference import build_inference_graph
    from src.tf_compat import tf

    prefix = resolve_checkpoint(checkpoint)
    cfg = read_model_config(prefix)
    os.makedirs(output_dir, exist_ok=True)
    sm_dir = os.path.join(output_dir, "saved_model")
    with tf.Graph().as_default() as graph:
        image_tensor, outputs, _ = build_inference_graph(cfg, score_threshold, iou_threshold, max_boxes)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            saver.restore(sess, prefix)
            tmp = sm_dir + ".tmp"
            if os.path.exists(tmp):
                shutil.rmtree(tmp)
            builder = tf.saved_model.builder.SavedModelBuilder(tmp)
            sig = tf.saved_model.signature_def_utils.predict_signature_def(
                inputs={"images": image_tensor}, outputs=outputs)
            builder.add_meta_graph_and_variables(sess, [tf.saved_model.tag_constants.SERVING],
                                                 signature_def_map={"serving_default": sig})
            builder.save()
            if os.path.exists(sm_dir):
                shutil.rmtree(sm_dir)
            os.replace(tmp, sm_dir)
            frozen = tf.graph_util.convert_variables_to_constants(
                sess, graph.as_graph_def(), ["boxes", "scores", "num_boxes"])
    pb = os.path.join(output_dir, "model.pb")
    with open(pb + ".tmp", "wb") as f:
        f.write(frozen.SerializeToString())
    os.replace(pb + ".tmp", pb)
    return sm_dir, pb


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--output_dir", required=True)
    p.add_argument("--score_threshold", type=float, default=0.05)
    p.add_argument("--iou_threshold", type=float, default=0.3)
    p.add_argument("--max_boxes", type=int, default=200)
    args = p.parse_args(argv)
    try:
        from src.checkpoint_utils import CheckpointError

        sm, pb = export(args.checkpoint, args.output_dir, args.score_threshold, args.iou_threshold, args.max_boxes)
    except (ValueError, OSError, CheckpointError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    print("SavedModel: %s\nfrozen graph: %s" % (sm, pb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
