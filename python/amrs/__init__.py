"""AMRS-Sim: offline affective music recommendation (docs/python.md).

The C++ core is the extension ``amrs._amrs``; this package re-exports it and adds pure-Python
helpers: the Gymnasium-style envs (envs.py) and the env checker (check_env.py).
"""
from ._amrs import *  # noqa: F401,F403
from ._amrs import __version__  # noqa: F401
from .envs import RecEnv, VectorEnv  # noqa: F401
from .check_env import EnvCheckError, check_env  # noqa: F401
from .agents import Agent, evaluate, rollout, stress  # noqa: F401,E402  (docs/python.md)
