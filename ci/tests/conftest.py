import os
import sys

CI_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [CI_DIR]
from zoo_fixtures import *  # noqa: E402,F401,F403  (shared_dir, mini_data, free_port, run_script)
