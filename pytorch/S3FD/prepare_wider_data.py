"""Write S3FD's list files from the official WIDER FACE layout (the reference's prepare_wider_data.py).

    python prepare_wider_data.py --data_path=DATA [--output_dir=DIR]

DATA holds ``wider_face_split/wider_face_{train,val}_bbx_gt.txt`` and ``WIDER_{train,val}/images/<event>/<name>.jpg``.
Writes ``DIR/face_train.txt`` and ``DIR/face_val.txt`` (default DIR = DATA), one line per image in the reference's
format ``<absolute image path> <N> x y w h 1 ...`` with every box of the split file (the loader skips the ones with
no area). ``train.py`` builds the same files into its output folder when DATA has none.
"""
import argparse
import os
import sys

from src.errors import DataError, UserError, run_cli
from src.fileio import write_text_atomic

SPLITS = ("train", "val")


def split_paths(data_path, split):
    return (os.path.join(data_path, "wider_face_split", f"wider_face_{split}_bbx_gt.txt"),
            os.path.join(data_path, f"WIDER_{split}", "images"))


def list_lines(data_path, split):
    """The list-file lines of one split; ``DataError`` for a missing or malformed split file or a missing image."""
    import widerface_eval as we

    gt_file, img_dir = split_paths(data_path, split)
    if not os.path.isfile(gt_file):
        raise DataError(f"{gt_file}: WIDER FACE split file not found (--data_path must hold wider_face_split/ and "
                        f"WIDER_{split}/images/)")
    if not os.path.isdir(img_dir):
        raise DataError(f"{img_dir}: WIDER FACE image folder not found")
    try:
        entries = we.read_split_file(gt_file)
    except we.WiderFormatError as e:
        raise DataError(str(e)) from None
    lines = []
    for e in entries:
        path = os.path.abspath(os.path.join(img_dir, e.name))
        if any(c.isspace() for c in path):
            raise DataError(f"{gt_file}:{e.line}: image path {path!r} contains white space, which the list format "
                            f"cannot hold")
        if not os.path.isfile(path):
            raise DataError(f"{gt_file}:{e.line}: image {path} not found")
        fields = [path, str(len(e.boxes))]
        for x, y, w, h in e.boxes.tolist():
            fields += [str(x), str(y), str(w), str(h), "1"]
        lines.append(" ".join(fields))
    return lines


def write_lists(data_path, output_dir):
    """Write ``face_train.txt`` and ``face_val.txt`` into ``output_dir``; returns their paths."""
    out = []
    for split in SPLITS:
        lines = list_lines(data_path, split)
        path = os.path.join(output_dir, f"face_{split}.txt")
        write_text_atomic(path, "\n".join(lines) + "\n")
        out.append(path)
    return out


def find_lists(data_path):
    """``(train, val)`` list files already in ``data_path``, or None."""
    paths = [os.path.join(data_path, f"face_{s}.txt") for s in SPLITS]
    return paths if all(os.path.isfile(p) for p in paths) else None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_path", help="WIDER FACE root (wider_face_split/, WIDER_train/, WIDER_val/)")
    p.add_argument("--output_dir", help="where face_train.txt / face_val.txt go (default: --data_path)")
    a = p.parse_args(argv)
    if not a.data_path:
        raise UserError("--data_path=DIR is required (the WIDER FACE root)")
    if not os.path.isdir(a.data_path):
        raise DataError(f"--data_path {a.data_path}: no such directory")
    for path in write_lists(a.data_path, a.output_dir or a.data_path):
        with open(path) as f:
            n = sum(1 for _ in f)
        print(f"wrote {path} ({n} images)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, "prepare_wider_data.py"))
