"""Parity with the reference (``../shared/weights/fasterrcnn_reference``), stage by stage, 4-class and 2-class.

The fixture's seed-0 checkpoint (the reference's own format) is loaded as it is; each stage is fed as the fixture
README advises (teacher-forced from the proposals on) and compared at the tolerances it derives (the outputs are
bit-identical on the machine class the fixture was made on, which the exact checks of the MindSpore-op stages
confirm everywhere).
"""
import os

import numpy as np
import pytest

from helpers import FACEMASK_YAML, config, reference_npz

PHOTOS = ("astronaut", "grace_hopper")
PHOTO_FILES = {"astronaut": "astronaut.png", "grace_hopper": "grace_hopper.jpg"}


def _stage_cells(net):
    """Thin cells calling the network's own sub-cells in the order of its eval path (auto_prefix=False keeps the
    parameter names)."""
    import mindspore as ms
    from mindspore import nn, ops

    class BackboneRpn(nn.Cell):
        def __init__(self):
            super().__init__(auto_prefix=False)
            self.backbone, self.fpn_neck, self.rpn_with_loss = net.backbone, net.fpn_neck, net.rpn_with_loss
            self.anchor_list = net.anchor_list

        def construct(self, img):
            c = self.backbone(img)
            x = self.fpn_neck(c)
            out = self.rpn_with_loss(x, img, self.anchor_list, None, None, None, None)
            return c, x, out[1], out[2]

    class Proposals(nn.Cell):
        def __init__(self):
            super().__init__(auto_prefix=False)
            self.proposal_generator_test, self.anchor_list = net.proposal_generator_test, net.anchor_list

        def construct(self, c0, c1, c2, c3, c4, r0, r1, r2, r3, r4):
            return self.proposal_generator_test((c0, c1, c2, c3, c4), (r0, r1, r2, r3, r4), self.anchor_list)

    class RoiRcnn(nn.Cell):
        def __init__(self):
            super().__init__(auto_prefix=False)
            self.roi_align_test, self.rcnn = net.roi_align_test, net.rcnn
            self.idx = net.roi_align_index_test_tensor

        def construct(self, proposal, mask, x0, x1, x2, x3):
            rois = ops.concat((self.idx, proposal[:, 0:4]), 1)
            feats = self.roi_align_test(rois, x0, x1, x2, x3)
            out = self.rcnn(feats, mask, mask, mask)
            return rois, self.roi_align_test.map_roi_levels(rois), feats, out[0], out[2]

    class Post(nn.Cell):
        def __init__(self):
            super().__init__(auto_prefix=False)
            self.net = net

        def construct(self, cls, reg, mask, boxes, metas):
            decoded = ()
            for j in range(self.net.num_cls_bbox):
                decoded += (self.net.decode(boxes, reg[:, 4 * j:4 * j + 4]),)
            return decoded, self.net.get_det_bboxes(cls, reg, mask, boxes, metas)

    cells = dict(backbone_rpn=BackboneRpn(), proposals=Proposals(), roi_rcnn=RoiRcnn(), post=Post())
    for c in cells.values():
        c.set_train(False)
    return cells, ms.Tensor


@pytest.fixture(scope="module")
def net4(ref_ckpt4):
    from src.checkpoint import load_into_network, read_checkpoint
    from src.FasterRcnn.faster_rcnn import Faster_Rcnn
    net = Faster_Rcnn(config(FACEMASK_YAML))
    params, meta = read_checkpoint(ref_ckpt4)
    assert meta["config"] is None and len([k for k in params]) == 295
    assert load_into_network(net, params, ref_ckpt4) == 295          # every tensor, no renaming
    net.set_train(False)
    return net


@pytest.fixture(scope="module")
def staged(net4, ref_dir, shared_dir):
    """Per photo: the port's own stage outputs (backbone .. RPN on the stored input; proposals, RoIs, RCNN and post
    teacher-forced from the stored tensors), plus the port's preprocessing."""
    from src.dataset import preprocess_eval
    from src.image_io import read_image
    cells, T = _stage_cells(net4)
    cfg = config(FACEMASK_YAML)
    out = {}
    for name in PHOTOS:
        z = reference_npz(ref_dir, name)
        r = {"pre": preprocess_eval(read_image(os.path.join(shared_dir, "data", "real_photos", PHOTO_FILES[name])),
                                    cfg)}
        c, x, cls, reg = cells["backbone_rpn"](T(z["input"]))
        r["c"] = [v.asnumpy() for v in c]
        r["p_ms"] = x
        r["p"] = [v.asnumpy() for v in x]
        r["cls"], r["reg"] = [v.asnumpy() for v in cls], [v.asnumpy() for v in reg]
        props, masks = cells["proposals"](*[T(z[f"rpn_cls_score_total_{i}"]) for i in range(5)],
                                          *[T(z[f"rpn_bbox_pred_total_{i}"]) for i in range(5)])
        r["proposal"], r["proposal_mask"] = props[0].asnumpy(), masks[0].asnumpy()
        own_props, own_masks = cells["proposals"](*cls, *reg)
        r["own_proposal"], r["own_mask"] = own_props[0], own_masks[0]
        rois, lv, feats, cl, rg = cells["roi_rcnn"](T(z["proposal"]), T(z["proposal_mask"]), *x[:4])
        r.update(rois=rois.asnumpy(), levels=lv.asnumpy(), feats=feats.asnumpy(), cls_logits=cl.asnumpy(),
                 reg_logits=rg.asnumpy())
        decoded, det = cells["post"](T(z["cls_logits"]), T(z["reg_logits"]), T(z["proposal_mask"]),
                                     T(z["proposal"][:, :4]), T(z["img_metas"]))
        r["decoded"] = np.stack([d.asnumpy() for d in decoded])
        r["det"] = [d.asnumpy() for d in det]
        # end to end on the staged path (the fixture checked it equals the full network bit for bit)
        _, _, _, cl2, rg2 = cells["roi_rcnn"](own_props[0], own_masks[0], *x[:4])
        _, det2 = cells["post"](cl2, rg2, own_masks[0], own_props[0][:, :4], T(z["img_metas"]))
        r["det_e2e"] = [d.asnumpy() for d in det2]
        out[name] = r
    return out


@pytest.mark.parametrize("name", PHOTOS)
def test_preprocessing_exact(staged, ref_dir, name):
    z = reference_npz(ref_dir, name)
    x, meta = staged[name]["pre"]
    np.testing.assert_array_equal(x[None], z["input"])
    np.testing.assert_array_equal(meta[None], z["img_metas"])


@pytest.mark.parametrize("name", PHOTOS)
def test_backbone_fpn_rpn(staged, ref_dir, name):
    z, r = reference_npz(ref_dir, name), staged[name]
    for i, key in enumerate(("c2", "c3", "c4", "c5")):
        np.testing.assert_allclose(r["c"][i][:, ::16, ::4, ::4], z[key + "_sub"], atol=1e-4, rtol=0)
        s = r["c"][i].astype(np.float64)
        np.testing.assert_allclose([s.mean(), s.std(), s.min(), s.max(), np.abs(s).sum()], z[key + "_stats"],
                                   rtol=1e-5)
    for i in range(5):
        got = r["p"][i] if i == 4 else r["p"][i][:, ::16, ::4, ::4]
        np.testing.assert_allclose(got, z["fpn_out_4"] if i == 4 else z[f"fpn_out_{i}_sub"], atol=1e-4, rtol=0)
        np.testing.assert_allclose(r["cls"][i], z[f"rpn_cls_score_total_{i}"], atol=1e-4, rtol=0)
        np.testing.assert_allclose(r["reg"][i], z[f"rpn_bbox_pred_total_{i}"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", PHOTOS)
def test_proposals_exact(staged, ref_dir, name):
    z, r = reference_npz(ref_dir, name), staged[name]
    np.testing.assert_array_equal(r["proposal"], z["proposal"])          # same MindSpore ops, same inputs
    np.testing.assert_array_equal(r["proposal_mask"], z["proposal_mask"])


@pytest.mark.parametrize("name", PHOTOS)
def test_rois_levels_roialign_rcnn(staged, ref_dir, name):
    z, r = reference_npz(ref_dir, name), staged[name]
    np.testing.assert_array_equal(r["rois"], z["rois"])
    np.testing.assert_array_equal(r["levels"], z["roi_levels"])
    np.testing.assert_allclose(r["feats"][:8], z["roi_feats_first"], atol=2e-4, rtol=0)
    np.testing.assert_allclose(r["feats"].astype(np.float64).reshape(1000, -1).sum(1), z["roi_feats_sum"], atol=2e-2,
                               rtol=0)
    np.testing.assert_allclose(r["cls_logits"], z["cls_logits"], atol=2e-4, rtol=0)
    np.testing.assert_allclose(r["reg_logits"], z["reg_logits"], atol=2e-4, rtol=0)


@pytest.mark.parametrize("name", PHOTOS)
def test_post_exact(staged, ref_dir, name):
    z, r = reference_npz(ref_dir, name), staged[name]
    np.testing.assert_array_equal(r["decoded"], z["boxes_decoded"])
    for got, key in zip(r["det"], ("all_bbox", "all_label", "all_mask")):
        np.testing.assert_array_equal(got, z[key])


@pytest.mark.parametrize("name", PHOTOS)
def test_end_to_end_detections(staged, ref_dir, name):
    from src.inference import eval_detections, match_detections
    z, r = reference_npz(ref_dir, name), staged[name]
    bbox, label, mask = (d[0] for d in r["det_e2e"])
    m = mask[:, 0]
    dets = np.concatenate([bbox[m], label[m].astype(np.float32)], 1)
    assert match_detections(dets, z["dets"]) >= 49
    np.testing.assert_array_equal(eval_detections(bbox, label, mask, 128), z["dets_eval"])


# ---------------------------------------------------------------------------------------------- 2 classes

@pytest.fixture(scope="module")
def face_ckpt(ref_ckpt2, tmp_path_factory):
    """The 2-class reference checkpoint converted by tools/convert_official.py (it picks the face config)."""
    from tools.convert_official import convert
    dst = str(tmp_path_factory.mktemp("face") / "face.ckpt")
    lines = []
    cfg = convert(ref_ckpt2, dst, log=lines.append)
    assert cfg.num_classes == 2 and "fasterrcnn_widerface_config.yaml" in lines[0]
    return dst


def test_two_class_head_and_post(staged, face_ckpt, ref_dir):
    from src.checkpoint import load_into_network, read_checkpoint
    from src.FasterRcnn.faster_rcnn import Faster_Rcnn
    from src.model_utils.config import Config
    params, meta = read_checkpoint(face_ckpt)
    net = Faster_Rcnn(Config.from_dict(meta["config"]))
    assert load_into_network(net, params, face_ckpt) == 295
    net.set_train(False)
    cells, T = _stage_cells(net)
    for name in PHOTOS:
        z4, z2, r = reference_npz(ref_dir, name), reference_npz(ref_dir, name, two_class=True), staged[name]
        _, _, _, cl, rg = cells["roi_rcnn"](T(z4["proposal"]), T(z4["proposal_mask"]), *r["p_ms"][:4])
        np.testing.assert_allclose(cl.asnumpy(), z2["cls_logits"], atol=2e-4, rtol=0)
        np.testing.assert_allclose(rg.asnumpy(), z2["reg_logits"], atol=2e-4, rtol=0)
        decoded, det = cells["post"](T(z2["cls_logits"]), T(z2["reg_logits"]), T(z4["proposal_mask"]),
                                     T(z4["proposal"][:, :4]), T(z2["img_metas"]))
        np.testing.assert_array_equal(np.stack([d.asnumpy() for d in decoded]), z2["boxes_decoded"])
        for got, key in zip(det, ("all_bbox", "all_label", "all_mask")):
            np.testing.assert_array_equal(got.asnumpy(), z2[key])
        assert (z2["all_label"] == 0).all() and z2["all_bbox"].shape == (1, 1000, 5)


def test_two_class_predictor_end_to_end(face_ckpt, ref_dir, shared_dir):
    """The face checkpoint through Predictor (the demo / eval / export path), full network on the photo."""
    from src.inference import Predictor, match_detections
    z2 = reference_npz(ref_dir, "astronaut", two_class=True)
    pred = Predictor(face_ckpt, batch_size=1)
    assert pred.class_names == ["face"]
    dets = pred.detect_batch([os.path.join(shared_dir, "data", "real_photos", "astronaut.png")])[0]
    assert match_detections(dets, z2["dets"]) >= 49
    np.testing.assert_array_equal(dets, z2["dets_eval"])
