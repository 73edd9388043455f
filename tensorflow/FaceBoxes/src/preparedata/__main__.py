import sys

from src.errors import run_cli
from src.preparedata.create_tfrecords import main

sys.exit(run_cli(main, "python -m src.preparedata"))
