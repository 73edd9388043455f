"""The training and evaluation loops (the torchvision ``references/detection`` split; in MindSpore the training loop
is ``Model.train``, and what happens around each step lives in ``src/callbacks.py``).

``train`` runs global steps ``[start_step, last_step)`` as ``Model.train`` passes over whole epochs, so that a run
resumed in the middle of an epoch, or stopped by a step limit in the middle of one, computes exactly the steps an
uninterrupted run computes: first the rest of the interrupted epoch, then whole epochs, then the part of the last
epoch up to the limit. ``evaluate`` runs a ``Predictor`` over the WIDER FACE val images and writes the prediction
folder of the protocol.
"""
import os
import sys

import numpy as np


def training_passes(start_step, last_step, steps_per_epoch):
    """``[(first step, number of steps, whole_epochs)]`` covering global steps ``[start_step, last_step)``:
    a partial pass up to the next epoch boundary, one pass of whole epochs, a partial pass up to ``last_step``."""
    spe = int(steps_per_epoch)
    passes = []
    step = int(start_step)
    if step % spe and step < last_step:
        n = min(-(-step // spe) * spe, last_step) - step
        passes.append((step, n, False))
        step += n
    whole_end = last_step // spe * spe
    if whole_end > step:
        passes.append((step, whole_end - step, True))
        step = whole_end
    if last_step > step:
        passes.append((step, last_step - step, False))
    return passes


def train(model, make_dataset, callbacks, start_step, last_step, steps_per_epoch, sink_mode=False):
    """Train global steps ``[start_step, last_step)``.

    ``make_dataset(first_step, pass_steps)`` returns the data of one pass (``pass_steps`` steps per epoch, starting
    at global step ``first_step``); partial passes run without dataset sinking."""
    spe = int(steps_per_epoch)
    for first, n, whole in training_passes(start_step, last_step, spe):
        epoch0 = first // spe
        if whole:
            model.train(epoch0 + n // spe, make_dataset(first, spe), callbacks=callbacks,
                        dataset_sink_mode=sink_mode, initial_epoch=epoch0)
        else:
            model.train(epoch0 + 1, make_dataset(first, n), callbacks=callbacks, dataset_sink_mode=False,
                        initial_epoch=epoch0)


def evaluate(predictor, entries, images_root, pred_dir):
    """Detect on every ``(image path, _)`` of ``entries`` and write ``pred_dir/<event>/<name>.txt`` (boxes
    truncated to integers as the reference does) through ``widerface_eval.PredictionFolder``, which replaces
    ``pred_dir`` only when every image is done. Returns the number of images."""
    import widerface_eval
    from tqdm import tqdm

    with widerface_eval.PredictionFolder(pred_dir) as folder:
        for path, _ in tqdm(entries, desc="eval", unit="img", file=sys.stdout, mininterval=5):
            rel = os.path.relpath(path, images_root).replace(os.sep, "/")
            dets = predictor(path)
            boxes = dets[:, :5].astype(np.float64)
            # the reference writes int(x1), int(y1), int(x2) - int(x1), int(y2) - int(y1)
            boxes[:, :4] = np.trunc(boxes[:, :4])
            folder.write(rel, boxes)
    return len(entries)
