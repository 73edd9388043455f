"""``conversion.json``: the shard list that ``src.preparedata.create_tfrecords`` writes beside its shards (which
shards, of which annotations, and whether the conversion finished), read by training (``src/input_pipeline``)."""
import json
import os

from src.errors import DataError

MANIFEST = "conversion.json"


def read_manifest(folder):
    """The ``conversion.json`` of a shard folder, or None when it has none."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("shards"), list):
            raise ValueError("no list of shards")
    except ValueError as e:
        raise DataError("%s: not a shard list of src.preparedata.create_tfrecords (%s)" % (path, e)) from None
    return manifest
