"""make bench projects the cold start to the vCPU the template gives its two smallest sizes."""
from __future__ import annotations

from bench.run import VCPU_SHARES
from local.ros_template import load


def test_the_projected_shares_are_the_template_s_128_and_256_mb():
    sizes = load()["Mappings"]["InstanceSizes"]
    assert VCPU_SHARES == (sizes["128"]["Cpu"], sizes["256"]["Cpu"])
