"""AMRS-Sim: offline affective music recommendation (docs/python.md).

The C++ core is the extension ``amrs._amrs``; this package re-exports it and adds pure-Python
helpers.
"""
from ._amrs import *  # noqa: F401,F403
from ._amrs import __version__  # noqa: F401
from .agents import Agent, evaluate, rollout, stress  # noqa: F401,E402  (docs/python-agents.md)
