"""Signing's caches (issue 12) give what the uncached computations give: the date texts made once
per second, and HMACs from a pre-keyed copy."""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from cloud import signing


def test_date_texts_follow_every_second_and_any_time_zone():
    start = datetime(2026, 12, 4, 23, 59, 58, 999_000, tzinfo=timezone.utc)
    for step in range(0, 4000, 250):  # across seconds, a minute, a day and a year boundary
        moment = (start + timedelta(milliseconds=step)).astimezone(timezone(timedelta(hours=8)))
        utc = moment.astimezone(timezone.utc)
        assert signing.iso8601_utc(moment) == utc.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert signing.http_date(moment) == format_datetime(utc.replace(microsecond=0), usegmt=True)


def test_signatures_from_the_keyed_copy_equal_fresh_hmacs():
    for secret in ("secret-one", "secret-two", "secret-one"):
        text = "ACS3-HMAC-SHA256\n" + "ab" * 32
        assert signing.acs3_signature(secret, text) == hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
        assert signing.mns_signature(secret, text) == \
            __import__("base64").b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()).decode()
