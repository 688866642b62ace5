"""Task functions for the executor tests: importable by name in a spawned worker (pytest
puts this folder on sys.path, and spawn passes sys.path to the worker)."""

import os


def where(payload):
    return {"pid": os.getpid(), "echo": payload}


def boom(payload):
    raise ValueError(f"bad payload {payload['x']}")


def die(payload):
    os._exit(3)
