"""The reference's entry-point name for WIDER val inference + evaluation; same options as eval.py."""
import sys

from eval import main

if __name__ == "__main__":
    sys.exit(main())
