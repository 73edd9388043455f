"""CenterFace (MobileNetV2 + IDAUp neck, anchor-free) in PyTorch."""
