"""The function's one structured logger (Powertools): JSON lines on stderr, so that `make invoke`
keeps stdout for the answer. FC collects both streams."""
from __future__ import annotations

import os
import sys

from aws_lambda_powertools import Logger

# The level is given here, so Powertools never reads LOG_LEVEL itself: a bad value would raise at
# import. settings.py validates LOG_LEVEL with every other variable and sets it per instance.
logger = Logger(
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "ds-record-deleter"),
    level="INFO",
    stream=sys.stderr,
    utc=True,
    use_rfc3339=True,
)
