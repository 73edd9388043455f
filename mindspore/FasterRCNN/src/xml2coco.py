"""Convert Face Mask Detection VOC annotations (one xml per image) into a COCO json.

    python src/xml2coco.py --data_path=/data/facemask_split/train --save_path=/data/face_detection/annotations/instances_train2017.json

``--data_path`` holds ``annotations/*.xml``. Categories 1..3: ``with_mask``, ``without_mask``,
``mask_worn_incorrectly`` (the class names of fasterrcnn_facemask_config_cpu.yaml). Each object becomes
``bbox = [xmin, ymin, xmax - xmin, ymax - ymin]``, ``area = w h``, a 4-point segmentation, ``iscrowd 0``; image ids
from 0 in the sorted order of the files, annotation ids from 1.

Fixes against the reference: boxes touching the image's left or top edge (``xmin`` or ``ymin`` 0) are kept (it
dropped them); objects named ``mask_weared_incorrect``, the name the Kaggle data set actually uses, become
``mask_worn_incorrectly`` (it dropped every one of them); a malformed file is an error naming it. Only boxes without
area are skipped, and objects of other names, with one warning line.
"""
import argparse
import os
import sys
from xml.etree import ElementTree as ET

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "src"  # noqa: A001

from .errors import DataError, run_cli  # noqa: E402
from .fileio import write_json_atomic  # noqa: E402

CLASS_NAMES = ("with_mask", "without_mask", "mask_worn_incorrectly")
ALIASES = {"mask_weared_incorrect": "mask_worn_incorrectly"}


def _int(tree, path, xml_path):
    node = tree.find(path)
    if node is None or node.text is None:
        raise DataError(f"{xml_path}: missing <{path.replace('./', '')}>")
    try:
        return int(float(node.text.strip()))
    except ValueError:
        raise DataError(f"{xml_path}: <{path.replace('./', '')}> is not a number ({node.text.strip()!r})") from None


def read_voc(xml_path):
    """``(filename, width, height, [(name, xmin, ymin, xmax, ymax), ...])`` of one VOC file."""
    try:
        tree = ET.parse(xml_path)
    except ET.ParseError as e:
        line = e.position[0] if getattr(e, "position", None) else None
        raise DataError(f"{xml_path}{':' + str(line) if line else ''}: not valid XML ({e})") from None
    except OSError as e:
        raise DataError(f"{xml_path}: cannot read ({e.strerror or e})") from None
    fname = tree.find("./filename")
    if fname is None or not (fname.text or "").strip():
        raise DataError(f"{xml_path}: missing <filename>")
    objects = []
    for obj in tree.findall("./object"):
        name = (obj.findtext("./name") or "").strip()
        objects.append((name,) + tuple(_int(obj, f"./bndbox/{k}", xml_path) for k in ("xmin", "ymin", "xmax", "ymax")))
    return (fname.text.strip(), _int(tree, "./size/width", xml_path), _int(tree, "./size/height", xml_path), objects)


def xml2coco(data_path, save_path, progress=True):
    """Write the COCO json of ``data_path/annotations/*.xml`` to ``save_path``; returns the dict."""
    from tqdm import tqdm
    ann_dir = os.path.join(data_path, "annotations")
    if not os.path.isdir(ann_dir):
        raise DataError(f"{ann_dir}: not found (--data_path must hold annotations/)")
    files = sorted(f for f in os.listdir(ann_dir) if f.endswith(".xml"))
    if not files:
        raise DataError(f"{ann_dir}: no .xml annotation")
    cat_ids = {name: i + 1 for i, name in enumerate(CLASS_NAMES)}
    coco = {"images": [], "annotations": [],
            "categories": [{"name": n, "id": i, "supercategory": n} for n, i in cat_ids.items()]}
    skipped_names, skipped_empty = {}, 0
    for image_id, f in enumerate(tqdm(files, desc="xml2coco", unit="file", disable=not progress)):
        filename, width, height, objects = read_voc(os.path.join(ann_dir, f))
        coco["images"].append({"file_name": filename, "width": width, "height": height, "id": image_id})
        for name, x1, y1, x2, y2 in objects:
            name = ALIASES.get(name, name)
            if name not in cat_ids:
                skipped_names[name] = skipped_names.get(name, 0) + 1
                continue
            if x2 - x1 <= 0 or y2 - y1 <= 0:
                skipped_empty += 1
                continue
            coco["annotations"].append({
                "id": len(coco["annotations"]) + 1, "image_id": image_id, "category_id": cat_ids[name],
                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0,
                "segmentation": [[x1, y1, x2, y1, x2, y2, x1, y2]]})
    write_json_atomic(save_path, coco)
    msg = f"{len(coco['images'])} images, {len(coco['annotations'])} boxes -> {save_path}"
    if skipped_names or skipped_empty:
        msg += f" (skipped: {skipped_empty} boxes without area" + "".join(
            f", {n} '{k}'" for k, n in sorted(skipped_names.items())) + ")"
    print(msg)
    return coco


def main(argv=None):
    p = argparse.ArgumentParser(description="Face Mask VOC xml -> COCO json")
    p.add_argument("--data_path", required=True, help="folder with annotations/*.xml")
    p.add_argument("--save_path", required=True, help="COCO json to write")
    args = p.parse_args(argv)
    xml2coco(args.data_path, args.save_path)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "xml2coco.py"))
