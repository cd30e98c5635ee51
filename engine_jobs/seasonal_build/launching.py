"""The command a Triton container runs to serve an engine's model repository, as the container's main process.

One GPU: ``tritonserver`` itself. A TP/PP engine needs one MPI rank per GPU (``world_size``), in
TensorRT-LLM's leader mode: ``mpirun`` starts one ``tritonserver`` per rank, rank 0 loads every model
and serves, the others load only ``tensorrt_llm`` (explicit model control) and each Python backend gets
its own shared-memory prefix. These are the arguments NVIDIA's ``scripts/launch_triton_server.py``
builds (facts in docs/trtllm-contract.md), but that script ends with ``subprocess.Popen`` and returns
at once, so as a container's command the pod would exit; here ``mpirun`` is the command and stays in
the foreground, exiting when the ranks do. The PyTorch backend always runs one ``tritonserver``: its
llmapi model starts its own MPI workers. Pure.
"""

from __future__ import annotations

HTTP_PORT, GRPC_PORT, METRICS_PORT = 8000, 8001, 8002
TRITONSERVER = "tritonserver"
ENGINE_MODEL = "tensorrt_llm"


def serve_argv(model_repository: str, world_size: int, *, backend: str = "tensorrt",
               ports: tuple[int, int, int] = (HTTP_PORT, GRPC_PORT, METRICS_PORT)) -> list[str]:
    """The container command serving ``model_repository`` with ``world_size`` ranks."""
    if world_size < 1:
        raise ValueError(f"world_size must be at least 1, got {world_size}")
    http, grpc, metrics = ports
    common = [f"--model-repository={model_repository}", f"--http-port={http}", f"--grpc-port={grpc}",
              f"--metrics-port={metrics}"]
    if world_size == 1 or backend == "pytorch":
        return [TRITONSERVER, *common, "--metrics-config=histogram_latencies=true"]
    argv = ["mpirun", "--allow-run-as-root"]
    for rank in range(world_size):
        if rank:
            argv.append(":")
        argv += ["-n", "1", TRITONSERVER, *common]
        if rank:
            argv += ["--model-control-mode=explicit", f"--load-model={ENGINE_MODEL}"]
        else:
            argv.append("--metrics-config=histogram_latencies=true")
        argv += ["--disable-auto-complete-config", f"--backend-config=python,shm-region-prefix-name=prefix{rank}_"]
    return argv
