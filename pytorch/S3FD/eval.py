"""WIDER FACE val evaluation (the zoo's name for tools/wider_test.py; same flags).

    python eval.py --checkpoint CKPT --data_path DATA --output_path OUT [--single_scale | --input_size N]

Writes OUT/predictions/ and OUT/eval_result.json and prints the easy / medium / hard AP.
"""
import sys

from src.errors import run_cli
from tools.wider_test import main

if __name__ == "__main__":
    sys.exit(run_cli(main, "eval.py"))
