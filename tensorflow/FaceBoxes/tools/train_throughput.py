"""Training throughput from a train_log.jsonl (median seconds per step, skipping the warm-up steps)."""
import argparse
import json
import statistics
import sys


def throughput(path, batch_size, devices=1, skip=2):
    with open(path) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    if not recs:
        raise ValueError("%s: empty training log" % path)
    secs = [r["sec"] for r in recs[skip:]] or [r["sec"] for r in recs]
    sec = statistics.median(secs)
    return {"steps": len(recs), "sec_per_step": sec, "fps": batch_size * devices / sec,
            "loss_first": recs[0]["loss"], "loss_last": recs[-1]["loss"]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("log")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--devices", type=int, default=1)
    a = p.parse_args(argv)
    try:
        r = throughput(a.log, a.batch_size, a.devices)
    except (OSError, ValueError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    print("Final Performance images/sec : %.2f" % r["fps"])
    print("Final Performance sec/step : %.4f" % r["sec_per_step"])
    print("steps %d, loss first %.4f, loss last %.4f" % (r["steps"], r["loss_first"], r["loss_last"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
