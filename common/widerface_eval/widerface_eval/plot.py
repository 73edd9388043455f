"""PR curves of an evaluation drawn to PNG (AP in the legend) and written to JSON."""

import json
import os

from .io import write_text_atomic


def write_json(result, path, extra=None):
    """Write the APs, counts and the three PR curves to ``path``."""
    data = result.to_dict()
    if extra:
        data.update(extra)
    write_text_atomic(path, json.dumps(data, indent=1, allow_nan=True) + "\n")
    return path


def plot_pr_curves(result, path, title="WIDER FACE val", legend=None):
    """Draw the easy / medium / hard precision-recall curves side by side, AP in each legend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    for ax, setting in zip(axes, ("easy", "medium", "hard")):
        c = result.curves[setting]
        rec = np.asarray(c["recall"], dtype=float)
        prec = np.asarray(c["precision"], dtype=float)
        ok = np.isfinite(prec) & np.isfinite(rec)
        label = f"{legend + ' ' if legend else ''}AP = {result.aps[setting]:.4f}"
        ax.plot(rec[ok], prec[ok], lw=2, label=label)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("Recall")
        ax.set_ylabel("Precision")
        ax.set_title(f"{title}: {setting}")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower left")
    fig.tight_layout()
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path
