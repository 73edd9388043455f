"""A tiny WIDER FACE + RetinaFace-label layout built in a temp dir (independent of the generated mini set)."""
import os

import cv2
import numpy as np


def make_face(img, x, y, w, h):
    """Draws a face-like blob; returns the 5 landmarks (x, y)."""
    cv2.ellipse(img, (int(x + w / 2), int(y + h / 2)), (int(w / 2), int(h / 2)), 0, 0, 360, (90, 140, 200), -1)
    pts = [(x + 0.3 * w, y + 0.38 * h), (x + 0.7 * w, y + 0.38 * h), (x + 0.5 * w, y + 0.55 * h),
           (x + 0.35 * w, y + 0.75 * h), (x + 0.65 * w, y + 0.75 * h)]
    for (px, py) in pts[:2]:
        cv2.circle(img, (int(px), int(py)), max(1, int(w / 12)), (30, 30, 30), -1)
    cv2.line(img, (int(pts[3][0]), int(pts[3][1])), (int(pts[4][0]), int(pts[4][1])), (40, 40, 120),
             max(1, int(w / 20)))
    return pts


def build(root, n_train=4, n_val=3, seed=0, size=(192, 256)):
    rng = np.random.RandomState(seed)
    for split, n, wider in (("train", n_train, "WIDER_train"), ("val", n_val, "WIDER_val")):
        os.makedirs(os.path.join(root, split), exist_ok=True)
        lines = []
        for i in range(n):
            ev = "0--Parade" if i % 2 == 0 else "1--Handshaking"
            name = f"{ev}/{ev.split('--')[1]}_{split}_{i}.jpg"
            d = os.path.join(root, wider, "images", ev)
            os.makedirs(d, exist_ok=True)
            img = (rng.rand(size[0], size[1], 3) * 60 + 40).astype(np.uint8)
            lines.append(f"# {name}")
            nf = 0 if (split == "val" and i == n - 1) else 1 + i % 3
            for f in range(nf):
                w = int(rng.randint(24, 64))
                h = int(w * 1.2)
                x = int(rng.randint(0, size[1] - w))
                y = int(rng.randint(0, size[0] - h))
                pts = make_face(img, x, y, w, h)
                if f == 2:  # a face without landmarks
                    lines.append(f"{x} {y} {w} {h} " + " ".join(["-1.0 -1.0 -1.0"] * 5) + " -1.0")
                else:
                    lines.append(f"{x} {y} {w} {h} " + " ".join(f"{px:.3f} {py:.3f} 0.0" for px, py in pts) + " 0.9")
            cv2.imwrite(os.path.join(root, wider, "images", name), img)
        with open(os.path.join(root, split, "label.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
    return root


def write_val_ground_truth(root):
    """DATA/ground_truth/wider_*_val.mat for the tiny val split (every face kept in every setting)."""
    import widerface_eval as we
    events, files, boxes = [], [], []
    cur = None
    for line in open(os.path.join(root, "val", "label.txt")):
        line = line.strip()
        if line.startswith("#"):
            ev, name = line[1:].strip().split("/")
            if ev not in events:
                events.append(ev)
                files.append([])
                boxes.append([])
            e = events.index(ev)
            files[e].append(os.path.splitext(name)[0])
            boxes[e].append([])
            cur = boxes[e][-1]
        elif line:
            cur.append([float(v) for v in line.split()[:4]])
    boxes = [[np.array(b, np.float64).reshape(-1, 4) for b in ev] for ev in boxes]
    keep = {s: [[np.arange(1, len(b) + 1) for b in ev] for ev in boxes] for s in ("easy", "medium", "hard")}
    we.write_ground_truth(os.path.join(root, "ground_truth"), events, files, boxes, keep)
    return os.path.join(root, "ground_truth")
