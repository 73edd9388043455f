"""Small synthetic WIDER-layout datasets for tests (fast; the LFW-based mini set is used where faces matter)."""
import os

import numpy as np
from PIL import Image


def make_wider_layout(root, split="train", num_images=4, size=(160, 200), seed=0, zero_face_image=True,
                      corrupt=None):
    """Writes ROOT/WIDER_<split>/images/0--Ev/<i>.jpg and ROOT/wider_face_split/wider_face_<split>_bbx_gt.txt.

    Each image is noise with 1-2 uniformly coloured squares; their boxes are the ground truth. Returns the entries
    [(relpath, [[x, y, w, h], ...])]. ``corrupt``: index of an image whose JPEG is truncated.
    """
    rng = np.random.RandomState(seed)
    img_dir = os.path.join(root, "WIDER_%s" % split, "images", "0--Ev")
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(os.path.join(root, "wider_face_split"), exist_ok=True)
    entries = []
    h, w = size
    for i in range(num_images):
        img = (rng.rand(h, w, 3) * 60).astype(np.uint8)
        boxes = []
        n = 0 if (zero_face_image and i == num_images - 1) else 1 + i % 2
        for _ in range(n):
            s = int(rng.randint(24, 60))
            x = int(rng.randint(0, w - s))
            y = int(rng.randint(0, h - s))
            img[y:y + s, x:x + s] = rng.randint(150, 255, size=3)
            boxes.append([x, y, s, s])
        rel = "0--Ev/img_%d.jpg" % i
        path = os.path.join(img_dir, "img_%d.jpg" % i)
        Image.fromarray(img).save(path, quality=95)
        if corrupt is not None and i == corrupt:
            data = open(path, "rb").read()
            open(path, "wb").write(data[: len(data) // 3])
        entries.append((rel, boxes))
    with open(os.path.join(root, "wider_face_split", "wider_face_%s_bbx_gt.txt" % split), "w") as f:
        for rel, boxes in entries:
            f.write(rel + "\n%d\n" % len(boxes))
            if not boxes:
                f.write("0 0 0 0 0 0 0 0 0 0 \n")
            for x, y, bw, bh in boxes:
                f.write("%d %d %d %d 0 0 0 0 0 0 \n" % (x, y, bw, bh))
    return entries
