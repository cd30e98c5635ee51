"""Start the CPU ``tritonserver`` shipped in the ``nvidia-pytriton`` wheel on loopback.

Used by the local quickstart and by the integration tests. The wheel carries
the server binary (2.51), the Python backend and one backend stub per Python
version, but the stub is not where the backend looks for it; so a writable
backends directory is assembled in a cache dir (``$SEASONAL_CACHE_DIR`` or
``~/.cache/seasonal-engines``) with the stub for the running interpreter.

The server's environment matters:

- ``LD_LIBRARY_PATH`` gets the wheel's ``nvidia_pytriton.libs/`` (the copied
  stub loses its relative RPATH) and the interpreter's ``LIBDIR``
  (``libpython3.X.so`` for the stub).
- ``PYTHONPATH`` gets this interpreter's site-packages, so Python-backend
  models import the same NumPy (which must be 1.x: the stub was built against
  it; with NumPy 2 outputs fail with "output tensor shape does not match").

Imperative shell: files, processes, HTTP. It does not talk to models for the
operator; that is ``adapters.triton``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import site
import sys
import sysconfig
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import TracebackType

from seasonal_engines.adapters import local_processes

TRITON_DIR_ENV = "SEASONAL_TRITONSERVER_DIR"
CACHE_DIR_ENV = "SEASONAL_CACHE_DIR"
SHM_DIR = Path("/dev/shm")
INSTALL_HINT = "install it with `pip install 'nvidia-pytriton>=0.7,<0.8'` or point $" + TRITON_DIR_ENV
START_ATTEMPTS = 3


class ModelControl(str, Enum):
    NONE = "none"
    EXPLICIT = "explicit"
    POLL = "poll"


@dataclass(frozen=True)
class TritonInstallation:
    """Where the server and its parts are, and the environment it needs."""

    server_bin: Path
    backends_dir: Path
    caches_dir: Path
    library_dirs: tuple[Path, ...]


def cache_root() -> Path:
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "seasonal-engines"


def _wheel_dir() -> Path:
    """``pytriton/tritonserver`` of the installed wheel (without importing pytriton)."""
    override = os.environ.get(TRITON_DIR_ENV)
    if override:
        return Path(override)
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the `nvidia-pytriton` package is not installed: " + INSTALL_HINT)
    return Path(list(spec.submodule_search_locations)[0]) / "tritonserver"


def _copy_if_changed(source: Path, target: Path) -> None:
    """Copy atomically unless ``target`` already has the same size and mtime."""
    if target.exists():
        src, dst = source.stat(), target.stat()
        if src.st_size == dst.st_size and int(src.st_mtime) == int(dst.st_mtime):
            return
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    shutil.copy2(source, partial)
    os.replace(partial, target)


def locate_tritonserver(cache_dir: Path | None = None) -> TritonInstallation:
    """Find the wheel's server and assemble the backends dir with this Python's stub."""
    wheel = _wheel_dir()
    server_bin = wheel / "bin" / "tritonserver"
    if not server_bin.is_file():
        raise FileNotFoundError(f"no tritonserver binary at {server_bin}: " + INSTALL_HINT)
    python_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = wheel / "python_backend_stubs" / python_version / "triton_python_backend_stub"
    if not stub.is_file():
        raise FileNotFoundError(
            f"the wheel has no Python backend stub for Python {python_version} ({stub}); "
            "run with a Python it supports (3.8-3.13)"
        )
    backend_python = (cache_dir or cache_root()) / "triton-backends" / python_version / "python"
    backend_python.mkdir(parents=True, exist_ok=True)
    for part in sorted((wheel / "backends" / "python").iterdir()):
        if part.is_file():
            _copy_if_changed(part, backend_python / part.name)
    _copy_if_changed(stub, backend_python / stub.name)
    libs = wheel.parent.parent / "nvidia_pytriton.libs"
    library_dirs = [libs] if libs.is_dir() else []
    python_libdir = sysconfig.get_config_var("LIBDIR")
    if python_libdir:
        library_dirs.append(Path(python_libdir))
    return TritonInstallation(
        server_bin=server_bin,
        backends_dir=backend_python.parent,
        caches_dir=wheel / "caches",
        library_dirs=tuple(library_dirs),
    )


def _prepend_path(existing: str | None, entries: Sequence[str]) -> str:
    parts = [entry for entry in entries if entry]
    if existing:
        parts.append(existing)
    return os.pathsep.join(dict.fromkeys(parts))


def server_environment(installation: TritonInstallation, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for tritonserver: library path and this interpreter's packages."""
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = _prepend_path(env.get("LD_LIBRARY_PATH"), [str(d) for d in installation.library_dirs])
    site_dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        site_dirs.append(site.getusersitepackages())
    env["PYTHONPATH"] = _prepend_path(env.get("PYTHONPATH"), [d for d in site_dirs if Path(d).is_dir()])
    env.update(extra or {})
    return env


def server_command(
    installation: TritonInstallation,
    model_repository: Path,
    http_port: int,
    grpc_port: int,
    metrics_port: int,
    model_control: ModelControl = ModelControl.NONE,
    load_models: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    shm_prefix: str | None = None,
) -> list[str]:
    """The tritonserver command line for a CPU-only run on loopback.

    ``shm_prefix`` names the Python backend's shared-memory regions, so that
    whoever stops the server can remove what a crashed stub left in /dev/shm.
    """
    command = [
        str(installation.server_bin),
        f"--model-repository={model_repository}",
        f"--backend-directory={installation.backends_dir}",
        f"--cache-directory={installation.caches_dir}",
        "--http-address=127.0.0.1",
        f"--http-port={http_port}",
        "--grpc-address=127.0.0.1",
        f"--grpc-port={grpc_port}",
        "--metrics-address=127.0.0.1",
        f"--metrics-port={metrics_port}",
        "--allow-metrics=true",
        "--allow-gpu-metrics=false",
        f"--model-control-mode={ModelControl(model_control).value}",
        "--exit-timeout-secs=1",  # tests and quickstart need no graceful drain
    ]
    if shm_prefix:
        command.append(f"--backend-config=python,shm-region-prefix-name={shm_prefix}")
    command += [f"--load-model={name}" for name in load_models]
    return command + list(extra_args)


@dataclass
class TritonServer:
    """A running tritonserver; ``stop()`` (or leaving the ``with`` block) ends it and its stubs."""

    http_url: str
    grpc_url: str
    metrics_url: str
    http_port: int
    grpc_port: int
    metrics_port: int
    model_repository: Path
    process: local_processes.LocalProcess = field(repr=False)
    shm_prefix: str = ""

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def log_tail(self) -> str:
        return self.process.log_tail()

    def stop(self) -> None:
        self.process.stop()
        remove_shm_regions(self.shm_prefix)

    def __enter__(self) -> TritonServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def remove_shm_regions(prefix: str) -> None:
    """Delete shared-memory regions named ``prefix*`` (left behind when a stub is killed)."""
    if not prefix:
        return
    for region in SHM_DIR.glob(f"{prefix}*"):
        region.unlink(missing_ok=True)


def start_triton(
    model_repository: Path,
    workdir: Path,
    model_control: ModelControl | str = ModelControl.NONE,
    load_models: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    ready_timeout_s: float = 90.0,
) -> TritonServer:
    """Start tritonserver on free loopback ports and wait until it is ready.

    Ready means ``/v2/health/ready`` answers 200: every model loaded at start
    is ready (with ``explicit`` control and no ``load_models`` nothing is
    loaded, so the server is ready at once).
    """
    model_repository = Path(model_repository)
    if not model_repository.is_dir():
        raise FileNotFoundError(f"model_repository: {model_repository} is not a directory")
    try:
        control = ModelControl(model_control)
    except ValueError:
        choices = ", ".join(repr(m.value) for m in ModelControl)
        raise ValueError(f"model_control: {model_control!r} is not one of {choices}") from None
    installation = locate_tritonserver()
    server_env = server_environment(installation, env)
    workdir = Path(workdir)
    for attempt in range(1, START_ATTEMPTS + 1):
        http_port, grpc_port, metrics_port = local_processes.free_loopback_ports(3)
        shm_prefix = f"seasonal_engines_{uuid.uuid4().hex[:12]}_"
        command = server_command(
            installation, model_repository, http_port, grpc_port, metrics_port, control, load_models, extra_args,
            shm_prefix,
        )
        process = local_processes.start_process(
            "tritonserver", command, workdir / f"tritonserver-{attempt}.log", env=server_env, cwd=workdir
        )
        http_url = f"http://127.0.0.1:{http_port}"
        try:
            local_processes.wait_until_ok(process, f"{http_url}/v2/health/ready", ready_timeout_s)
        except local_processes.ServerStartError:
            process.stop()
            remove_shm_regions(shm_prefix)
            if attempt < START_ATTEMPTS and local_processes.port_clash(process):
                continue
            raise
        return TritonServer(
            http_url=http_url,
            grpc_url=f"127.0.0.1:{grpc_port}",
            metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
            http_port=http_port,
            grpc_port=grpc_port,
            metrics_port=metrics_port,
            model_repository=model_repository,
            process=process,
            shm_prefix=shm_prefix,
        )
    raise AssertionError("unreachable")  # the loop returns or raises
