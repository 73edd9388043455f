"""``EvalCallBack`` (``--run_eval=True``): evaluate the training network every ``interval`` epochs and keep the best.

The evaluation is eval.py's (``engine.evaluate``) on the current weights, run by a ``Predictor`` that shares the
configuration; its output goes to ``<save_checkpoint_path>/eval_epoch<N>/``. The metric is the bbox mAP for COCO
json / 'other' lists and the mean of the easy / medium / hard AP for WIDER FACE; a new best is written (atomically,
with the configuration) to ``<save_checkpoint_path>/best_ckpt/best.ckpt``, and its metric and epoch to
``best_ckpt/best.json``: a resumed run (``start_step`` > 0) starts from that best, so that a worse evaluation after
the resume does not replace the best checkpoint of the run.
"""
import json
import os

from .checkpoint import save_checkpoint
from .engine import evaluate
from .fileio import write_json_atomic
from .network_define import GlobalStepCallBack


class EvalCallBack(GlobalStepCallBack):
    def __init__(self, config, net, start_step, steps_per_epoch, out_dir):
        super().__init__(start_step)
        self.config = config
        self.net = net
        self.steps_per_epoch = steps_per_epoch
        self.out_dir = out_dir
        self.best_ckpt_path = os.path.join(out_dir, "best_ckpt", "best.ckpt")
        self.best_json_path = os.path.join(out_dir, "best_ckpt", "best.json")
        self.best_res = float("-inf")
        self.best_epoch = 0
        self.predictor = None
        if start_step > 0 and os.path.isfile(self.best_json_path) and os.path.isfile(self.best_ckpt_path):
            try:
                with open(self.best_json_path, encoding="utf-8") as f:
                    best = json.load(f)
                self.best_res, self.best_epoch = float(best["metric"]), int(best["epoch"])
            except (OSError, ValueError, KeyError, TypeError):
                pass                                # unreadable: the next evaluation writes a new best

    def on_train_step_end(self, run_context):
        previous = self.global_step
        step, _ = self.advance(run_context)
        epoch = step // self.steps_per_epoch
        if epoch == previous // self.steps_per_epoch:           # no epoch ended in these steps
            return
        if epoch % self.config.interval and epoch != self.config.epoch_size:
            return
        self.evaluate(epoch, run_context.original_args().train_network)

    def evaluate(self, epoch, train_network):
        from .inference import Predictor
        params = {p.name: p for p in self.net.get_parameters()}
        if self.predictor is None:
            self.predictor = Predictor(config=self.config, params=params)
        else:
            self.predictor.load_weights(params)
        res, _ = evaluate(self.config, self.predictor, os.path.join(self.out_dir, f"eval_epoch{epoch}"),
                          progress=False, plot=False)
        print(f"epoch {epoch}: evaluation result {res:.4f}", flush=True)
        if res > self.best_res:
            self.best_res, self.best_epoch = res, epoch
            save_checkpoint(self.best_ckpt_path, train_network, self.config.to_dict(),
                            step=self.global_step, epoch=epoch)
            write_json_atomic(self.best_json_path, {"metric": res, "epoch": epoch, "step": self.global_step})
            print(f"update best result: {res:.4f} in the {epoch} th epoch", flush=True)

    def on_train_end(self, run_context):
        if self.best_epoch:
            print(f"End training the best {self.best_res:.4f} epoch is {self.best_epoch}", flush=True)
