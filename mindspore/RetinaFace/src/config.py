"""Model and training configurations.

``cfg_res50`` follows MindSpore models ``official/cv/RetinaFace_ResNet50/src/config.py`` (values checked against
``../shared/reference/retinaface_fasterrcnn_widerface_eval.md`` section 1.2). ``cfg_mnet`` is the MobileNet0.25 variant
of ``research/cv/retinaface`` / the PyTorch original's ``cfg_mnet``.

Everything that is hard-coded in the reference (min sizes, steps, FPN width) is a key here, and every checkpoint
written by this folder stores the model part of its configuration (see ``model_config`` / ``src.utils.save_ckpt``).
"""
import copy

cfg_res50 = {
    "name": "ResNet50",
    "backbone": "resnet50",
    # model
    "in_channel": 256,            # unused for resnet50 (C3/C4/C5 channels are 512/1024/2048)
    "out_channel": 256,           # FPN / SSH width
    "leaky": 0.0,                 # FPN/SSH LeakyReLU slope: 0 because out_channel > 64 (plain ReLU)
    "num_anchor_per_cell": 2,
    "min_sizes": [[16, 32], [64, 128], [256, 512]],
    "steps": [8, 16, 32],
    "variance": [0.1, 0.2],
    "clip": False,
    "mean_bgr": [104.0, 117.0, 123.0],
    # loss
    "loc_weight": 2.0,
    "class_weight": 1.0,
    "landm_weight": 1.0,
    "match_thresh": 0.35,
    "neg_pos_ratio": 7,
    # train
    "batch_size": 8,
    "num_workers": 4,
    "num_anchor": 29126,
    "ngpu": 4,
    "image_size": 840,
    "optim": "sgd",
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "seed": 1,
    "epoch": 100,
    "decay1": 70,
    "decay2": 90,
    "lr_type": "dynamic_lr",
    "initial_lr": 0.01,
    "warmup_epoch": 5,
    "gamma": 0.1,
    "grad_clip": 0.0,             # 0 = no clipping (official); research/cv/retinaface uses per-tensor ClipByNorm(1.0)
    "photometric_distortion": False,  # defined but never called by the MindSpore reference
    "ckpt_path": "./checkpoint/",
    "save_checkpoint_steps": 2000,
    "keep_checkpoint_max": 1,
    "pretrain": True,
    "pretrain_path": "./data/res50_pretrain.ckpt",
    "resume_net": None,
    # val
    "val_model": "./checkpoint/ckpt_0/RetinaFace-100_536.ckpt",
    "val_origin_size": False,
    "val_target_size": 1600,
    "val_max_size": 2176,
    "val_confidence_threshold": 0.02,
    "val_nms_threshold": 0.4,
    "val_iou_threshold": 0.5,
    "val_save_result": False,
    "val_predict_save_folder": "./widerface_result",
    "val_gt_dir": "./data/ground_truth/",
}

cfg_mnet = copy.deepcopy(cfg_res50)
cfg_mnet.update({
    "name": "mobilenet0.25",
    "backbone": "mobilenet0.25",
    "in_channel": 32,             # stage channels are in_channel*2, *4, *8 = 64, 128, 256
    "out_channel": 64,
    "leaky": 0.1,                 # LeakyReLU(0.1) as in research/cv/retinaface and the later PyTorch net.py
    "batch_size": 32,
    "num_anchor": 16800,
    "image_size": 640,
    "epoch": 120,
    "decay1": 190,
    "decay2": 220,
    "initial_lr": 0.02,
    "warmup_epoch": 5,
    "pretrain_path": "./data/mobilenetV1X0.25_pretrain.ckpt",
    "val_model": "./checkpoint/ckpt_0/RetinaFace-120.ckpt",
})

CONFIGS = {"resnet50": cfg_res50, "mobilenet0.25": cfg_mnet}

# keys that define the network, its anchors and its pre-processing: stored in every checkpoint
MODEL_KEYS = ("name", "backbone", "in_channel", "out_channel", "leaky", "num_anchor_per_cell", "min_sizes",
              "steps", "variance", "clip", "mean_bgr", "image_size")


def get_config(backbone="resnet50"):
    """A fresh (deep-copied) config dict for ``backbone`` ('resnet50' or 'mobilenet0.25')."""
    if backbone not in CONFIGS:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {sorted(CONFIGS)}")
    return copy.deepcopy(CONFIGS[backbone])


def model_config(cfg):
    """The part of ``cfg`` that a checkpoint must carry."""
    return {k: copy.deepcopy(cfg[k]) for k in MODEL_KEYS}
