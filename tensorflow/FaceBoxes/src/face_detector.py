"""FaceDetector for the frozen graph written by export.py (``model.pb``), as the reference's face_detector.py."""
import numpy as np

from src.tf_compat import tf


class FaceDetector(object):
    def __init__(self, model_path, gpu_memory_fraction=0.25, visible_device_list="0"):
        """model_path: a frozen .pb with input 'image_tensor' (uint8) and outputs 'boxes', 'scores', 'num_boxes'."""
        if not tf.gfile.Exists(model_path):
            raise FileNotFoundError("%s: no such frozen graph file" % model_path)
        with tf.gfile.GFile(model_path, "rb") as f:
            graph_def = tf.GraphDef()
            try:
                graph_def.ParseFromString(f.read())
            except Exception:
                raise ValueError("%s: not a frozen TensorFlow graph (.pb)" % model_path)
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.import_graph_def(graph_def, name="import")
        g = self.graph
        try:
            self.input_image = g.get_tensor_by_name("import/image_tensor:0")
            self.output_ops = [g.get_tensor_by_name("import/%s:0" % n) for n in ("boxes", "scores", "num_boxes")]
        except KeyError as e:
            raise ValueError("%s: graph lacks the expected tensors (%s)" % (model_path, e))
        gpu_options = tf.GPUOptions(per_process_gpu_memory_fraction=gpu_memory_fraction,
                                    visible_device_list=visible_device_list)
        self.sess = tf.Session(graph=self.graph, config=tf.ConfigProto(gpu_options=gpu_options,
                                                                        log_device_placement=False))

    def __call__(self, image, score_threshold=0.5):
        """image: uint8 RGB [H, W, 3]. Returns boxes [N, 4] (ymin, xmin, ymax, xmax) in pixels and scores [N]."""
        h, w, _ = image.shape
        boxes, scores, num = self.sess.run(self.output_ops, feed_dict={self.input_image: np.expand_dims(image, 0)})
        n = int(num[0])
        boxes, scores = boxes[0][:n], scores[0][:n]
        keep = scores > score_threshold
        return boxes[keep] * np.array([h, w, h, w], np.float32), scores[keep]
