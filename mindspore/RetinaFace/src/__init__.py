"""RetinaFace (ResNet50 / MobileNet0.25) in MindSpore."""
