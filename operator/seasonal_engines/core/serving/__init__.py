"""The serving model: what a planned engine would do with the traffic, simulated, not measured.

A discrete-event simulation of TensorRT-LLM's in-flight batching on one replica (``simulating``) over a
request stream (``requests``), with the paged KV cache in blocks (``kv_pool``), the capacity schedulers
``guaranteed_no_evict`` and ``max_utilization`` and the micro-batch scheduler (``scheduling``), and an
iteration cost from the model, the GPU and the quantization (``costs``) whose few constants are fitted to
NVIDIA's published throughput (``calibration``). ``engines`` reads a replica from a plan; ``predictions``
turns simulations into the figures people decide with (TTFT and ITL percentiles, tokens/s per GPU,
replicas for an SLO). Every figure it produces is labelled modelled. Pure: no I/O, no clock.
"""
