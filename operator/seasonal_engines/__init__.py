"""Seasonal Engines: a Kubernetes operator that keeps TensorRT-LLM engines sized to the traffic they serve."""

from importlib import metadata

# The installed distribution's version (pyproject.toml): `seasonal --version`, and the tag of the default image.
__version__ = metadata.version("seasonal-engines")
