"""The function's one structured logger (Powertools): JSON lines on stderr, so that `make invoke`
keeps stdout for the answer. FC collects both streams."""
from __future__ import annotations

import os
import sys

from aws_lambda_powertools import Logger

logger = Logger(
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "ds-record-deleter"),
    stream=sys.stderr,
    utc=True,
    use_rfc3339=True,
)
