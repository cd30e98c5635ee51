"""Real tritonserver (CPU) for tests: a thin layer over ``adapters.local_triton``.

``start_triton(model_repository, workdir, model_control="none", load_models=(), extra_args=(), env=None)``
starts the wheel's server on free loopback ports and waits for ``/v2/health/ready``.
``MODELS`` is the test bed's model repository (``echo``: FP32 ``INPUT`` → ``OUTPUT``,
plus a custom histogram ``testbed_echo_input_length``).
"""

from pathlib import Path

from seasonal_engines.adapters.local_triton import (
    ModelControl,
    TritonServer,
    locate_tritonserver,
    start_triton,
)

MODELS = Path(__file__).resolve().parent / "models"

__all__ = ["MODELS", "ModelControl", "TritonServer", "locate_tritonserver", "start_triton"]
