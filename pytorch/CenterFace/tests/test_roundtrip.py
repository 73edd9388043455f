"""Targets encoded by the dataset, written into 'perfect' output maps and decoded, give back the annotations in
original-image pixels: the training encoding and the inference decode agree, for both conventions."""
import os

import numpy as np
import pytest

from src.coco_convert import convert
from src.config import Config
from src.dataset import WiderFaceCOCO
from src.decode import decode
from src.transforms import get_affine_transform, to_image_coords
from tinydata import build


def perfect_maps(t, out_hw):
    h, w = out_hw
    maps = {"hm": t["hm"].copy(), "wh": np.zeros((2, h, w), np.float32), "hm_offset": np.zeros((2, h, w), np.float32),
            "landmarks": np.zeros((10, h, w), np.float32)}
    for k in np.nonzero(t["reg_mask"])[0]:
        r, c = divmod(int(t["ind"][k]), w)
        maps["wh"][:, r, c] = t["wh"][k]
        maps["hm_offset"][:, r, c] = t["reg"][k]
        maps["landmarks"][:, r, c] = t["landmarks"][k]
    return maps


@pytest.mark.parametrize("convention,fmt", [("chenjun2hao", "bgr_norm"), ("official", "rgb_raw")])
def test_encode_decode_round_trip(tmp_path, convention, fmt):
    root = build(str(tmp_path / "d"), n_train=4, n_val=1)
    js = str(tmp_path / "t.json")
    convert(os.path.join(root, "train", "label.txt"), os.path.join(root, "WIDER_train", "images"), js)
    size = 256
    cfg = Config.preset(convention).replace(input_size=size)  # the variant of the same name has this convention
    assert (cfg.convention, cfg.input_format) == (convention, fmt)
    ds = WiderFaceCOCO(js, os.path.join(root, "WIDER_train", "images"), cfg, train=False)
    for i, (fname, faces) in enumerate(ds.images):
        _, t = ds[i]
        maps = perfect_maps(t, (size // 4, size // 4))
        dets = decode(maps, convention, (size, size), threshold=0.99, nms_thresh=None, top_k=200)
        # original image 256x192 -> letterbox (c = centre, s = 256)
        inv = get_affine_transform(np.array([128.0, 96.0], np.float32), 256.0, (size, size), inv=True)
        dets = to_image_coords(dets, {"kind": "affine", "inv": inv})
        assert len(dets) == len(faces)
        for box, kps in faces:
            j = int(np.argmin(np.abs(dets[:, :4] - box).sum(1)))
            np.testing.assert_allclose(dets[j, :4], box, atol=1.0)
            if kps[:, 2].min() > 0:
                np.testing.assert_allclose(dets[j, 5:].reshape(5, 2), kps[:, :2], atol=1.0)
