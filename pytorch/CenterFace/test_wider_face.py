"""The reference's entry-point name for WIDER val inference + evaluation; same options as eval.py."""
import sys

from eval import main
from src.errors import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main, "test_wider_face.py"))
