"""A module that fails while being imported: the worker must report it, not just die."""

raise RuntimeError("broken on purpose")
