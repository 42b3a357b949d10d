"""A strict local stand-in for the Alibaba Cloud Domain API and MNS.

    from local.emulator import Emulator
    with Emulator(port=0, task_delays=(0, 0)) as cloud:   # seed=None|path|dict, faults=dict
        cloud.url, cloud.sts_credentials, cloud.access_key, cloud.account_id, cloud.region
        cloud.put_domain({...}), cloud.create_tasks(...), cloud.set_faults({...}), cloud.snapshot()

The official SDK clients work against cloud.url unchanged: the Domain API on POST / (V3 or V1
signatures), MNS on /topics/... and /queues/..., the control API on /__emulator__/ (state,
requests, stats, faults, reset, domains, tasks, settings, credentials; see admin.py). Fault
rules are described in faults.py, planned task ends in domain_state.py; the command line is
`python -m local.emulator --help`.
"""
from .emulator import Emulator

__all__ = ["Emulator"]
