"""The tests' clock: a deliberately non-UTC zone that really applies."""

from __future__ import annotations

import datetime as dt
import time


def test_the_tests_run_in_shanghai_time() -> None:
    assert time.strftime("%z", time.localtime(0)) == "+0800"  # tzset() made TZ take effect
    assert dt.datetime.fromtimestamp(0).hour == 8  # noqa: DTZ006  (naive on purpose: it is the local zone under test)
