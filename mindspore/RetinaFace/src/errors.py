"""One-line CLI errors: catch what a user can cause and print ``<script>: error: <message>``."""
import sys

from .augmentation import AugmentationError
from .dataset import ImageReadError, LabelFormatError

USER_ERRORS = (FileNotFoundError, NotADirectoryError, LabelFormatError, ImageReadError, AugmentationError,
               ValueError)


def pipeline_message(exc):
    """Pull our own message out of a MindSpore data-pipeline RuntimeError (which wraps the worker's exception)."""
    text = str(exc)
    for marker in ("ImageReadError:", "LabelFormatError:", "AugmentationError:"):
        if marker in text:
            tail = text.split(marker, 1)[1].strip()
            return tail.splitlines()[0].strip()
    return None


def run_cli(main, prog):
    try:
        return main()
    except USER_ERRORS as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        msg = pipeline_message(e)
        if msg is None:
            raise
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
