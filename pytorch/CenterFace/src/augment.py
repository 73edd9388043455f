"""Training augmentation of the reference (datasets/sample/multi_pose.py, utils/utils.Data_anchor_sample,
utils/image.color_aug), written against numpy arrays; boxes are (N,4) x1 y1 x2 y2 and landmarks (N,5,3) x y v in
image pixels. Nothing is mutated in place (the reference's DAS scales the shared COCO dicts, a bug)."""
import cv2
import numpy as np

from .transforms import affine_points

DAS_ANCHORS = np.array([16, 32, 48, 64, 96, 128, 256, 512])
DAS_MAX_SIZE = 12000
INTERPOLATIONS = [cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA, cv2.INTER_NEAREST, cv2.INTER_LANCZOS4]
FLIP_PAIRS = [(0, 1), (3, 4)]
# PCA lighting: the CenterNet / CornerNet eigen values and vectors exactly as the reference's FACEHP dataset has them
# (the last component of the third eigenvector is 0.41158938 there)
EIG_VAL = np.array([0.2141788, 0.01817699, 0.00341571], np.float32)
EIG_VEC = np.array([[-0.58752847, -0.69563484, 0.41340352],
                    [-0.5832747, 0.00994535, -0.81221408],
                    [-0.56089297, 0.71832671, 0.41158938]], np.float32)


def data_anchor_sample(img, boxes, landmarks, rng):
    """Rescales the image so that one random face gets a random anchor size <= 96 px (PyramidBox DAS)."""
    h_img, w_img = img.shape[:2]
    k = rng.randint(0, len(boxes))
    bw = boxes[k, 2] - boxes[k, 0]
    bh = boxes[k, 3] - boxes[k, 1]
    size = np.sqrt((bw + 1) * (bh + 1))
    idx = int(np.argmin(np.abs(DAS_ANCHORS - size)))
    target = DAS_ANCHORS[rng.randint(0, min(idx + 1, 5))]
    ratio = float(target) / size * (2 ** rng.uniform(-1, 1))
    if int(h_img * ratio * w_img * ratio) > DAS_MAX_SIZE * DAS_MAX_SIZE:
        ratio = (DAS_MAX_SIZE * DAS_MAX_SIZE / (h_img * w_img)) ** 0.5
    interp = INTERPOLATIONS[rng.randint(0, 5)]
    new_w, new_h = max(1, int(round(w_img * ratio))), max(1, int(round(h_img * ratio)))
    img = cv2.resize(img, (new_w, new_h), interpolation=interp)
    sx, sy = new_w / w_img, new_h / h_img
    boxes = boxes * np.array([sx, sy, sx, sy], np.float32)
    landmarks = landmarks.copy()
    landmarks[:, :, 0] *= sx
    landmarks[:, :, 1] *= sy
    return img, boxes.astype(np.float32), landmarks


def _get_border(border, size):
    i = 1
    while size - border // i <= border // i:
        i *= 2
    return border // i


def random_crop_center(h, w, rng):
    """Centre c ~ U[border, size − border] per axis, scale s = max(h, w), border = s·{0.1, 0.2, 0.25}."""
    s = max(h, w)
    border = int(s * rng.choice([0.1, 0.2, 0.25]))
    wb, hb = _get_border(border, w), _get_border(border, h)
    c = np.array([rng.randint(low=wb, high=max(wb + 1, w - wb)), rng.randint(low=hb, high=max(hb + 1, h - hb))],
                 np.float32)
    return c, float(s)


def hflip(img, boxes, landmarks, c):
    """Horizontal flip of the image, boxes, landmarks (pairs swapped) and the crop centre."""
    w = img.shape[1]
    img = img[:, ::-1].copy()
    boxes = boxes.copy()
    boxes[:, [0, 2]] = w - boxes[:, [2, 0]] - 1
    landmarks = landmarks.copy()
    lab = landmarks[:, :, 2] > 0
    landmarks[:, :, 0] = np.where(lab, w - landmarks[:, :, 0] - 1, landmarks[:, :, 0])
    for a, b in FLIP_PAIRS:
        landmarks[:, [a, b]] = landmarks[:, [b, a]]
    c = np.array([w - c[0] - 1, c[1]], np.float32)
    return img, boxes, landmarks, c


def warp_annotations(boxes, landmarks, t):
    """Applies the affine ``t`` to box corners and labelled landmarks."""
    boxes = boxes.copy()
    if len(boxes):
        boxes[:, :2] = affine_points(boxes[:, :2], t)
        boxes[:, 2:4] = affine_points(boxes[:, 2:4], t)
    landmarks = landmarks.copy()
    if len(landmarks):
        pts = affine_points(landmarks[:, :, :2].reshape(-1, 2), t).reshape(-1, 5, 2)
        lab = landmarks[:, :, 2:3] > 0
        landmarks[:, :, :2] = np.where(lab, pts, landmarks[:, :, :2])
    return boxes, landmarks


def grayscale(image):
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _blend(alpha, image1, image2):
    image1 *= alpha
    image2 *= (1 - alpha)
    image1 += image2


def color_aug(rng, image, var=0.4, alphastd=0.1):
    """CenterNet colour jitter on a float32 BGR image in [0, 1], in place: brightness, contrast, saturation
    (each 1 ± U(0.4), random order), then AlexNet PCA lighting with sigma 0.1."""
    gs = grayscale(image)
    gs_mean = gs.mean()

    def brightness():
        image[...] *= 1 + rng.uniform(low=-var, high=var)

    def contrast():
        _blend(1 + rng.uniform(low=-var, high=var), image, gs_mean)

    def saturation():
        _blend(1 + rng.uniform(low=-var, high=var), image, gs[:, :, None].copy())

    funcs = [brightness, contrast, saturation]
    rng.shuffle(funcs)
    for f in funcs:
        f()
    alpha = rng.normal(scale=alphastd, size=(3,))
    image += np.dot(EIG_VEC, EIG_VAL * alpha).astype(np.float32)
    return image
