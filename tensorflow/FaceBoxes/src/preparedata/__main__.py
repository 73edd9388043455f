import sys

from src.preparedata.create_tfrecords import main

sys.exit(main())
