"""A strict local stand-in for the Alibaba Cloud Domain API and MNS (see emulator.py)."""
from .credentials import DEFAULT_CREDENTIALS
from .emulator import Emulator

__all__ = ["Emulator", "DEFAULT_CREDENTIALS"]
