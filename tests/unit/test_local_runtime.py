"""make invoke (local/runtime.py) says where an invocation's notifications went."""
from __future__ import annotations

from local.runtime import LocalCloud, print_published


def test_with_endpoints_given_it_names_the_topic_and_the_endpoint_not_the_cloud(capsys):
    # `make emulator`'s export lines are endpoints given too: "in the cloud" would mislead there.
    cloud = LocalCloud("1234567890123456", "cn-hangzhou", None)
    print_published(cloud, "ds-record-deleter-notifications", "http://127.0.0.1:9100")
    err = capsys.readouterr().err
    assert "in the cloud" not in err
    assert "ds-record-deleter-notifications" in err and "http://127.0.0.1:9100" in err
