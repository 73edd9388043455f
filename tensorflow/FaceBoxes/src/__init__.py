"""FaceBoxes (TF1-style graph code against tensorflow.compat.v1)."""
