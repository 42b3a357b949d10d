"""Local stand-ins for the cloud: the emulator, the FC runtime and the HTTP trigger.

They share the function's own signing code (the emulator verifies with what the clients sign
with, the latter proven against the official SDKs), so the function's package root is made
importable here: `python -m local.emulator` works without the Makefile's PYTHONPATH.
"""
import os
import sys

_FUNCTION_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "functions",
                              "ds_record_deleter")
if _FUNCTION_ROOT not in sys.path:
    sys.path.append(_FUNCTION_ROOT)
