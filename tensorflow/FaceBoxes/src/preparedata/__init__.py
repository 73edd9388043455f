"""WIDER FACE -> sharded TFRecords (``python -m src.preparedata ...``)."""
