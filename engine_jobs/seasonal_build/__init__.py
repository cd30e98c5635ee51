"""The build-job side of Seasonal Engines: turns a ``plan.json`` into a published engine.

Runs inside NVIDIA's Triton TensorRT-LLM container (``python -m seasonal_build build``), so this
package uses the standard library only; ``tensorrt_llm`` is touched in exactly one module
(:mod:`seasonal_build.trtllm`). The operator imports the pure parts (engine store layout,
garbage-collection decisions) from here too.

Modules:
  plans          load and validate plan.json (the contract with the operator's planner)
  commands       the exact argv of the real TensorRT-LLM path (pure)
  builder_rules  what trtllm-build rewrites or refuses, checked before any GPU work (pure)
  runtime_limits the limits the TensorRT-LLM runtime enforces; the stand-in's engine config.json (pure)
  launching      the serving command (mpirun in the foreground for TP/PP engines) (pure)
  trtllm         runs those commands, reads TRT-LLM version and GPU compute capability
  verification   reads an engine's config.json back and compares it with the plan
  pbtxt          writes and parses Triton ModelConfig text
  triton_repo    the Triton model repository a plan is served from (TensorRT or PyTorch), and its checks
  stand_in       the CPU stand-in engine's model repository (never a TensorRT-LLM engine)
  manifests      manifest.json, the engine's record and completeness marker
  engine_store   <store>/<model>/<hash>/ layout, atomic publish, lookup, references, GC shell
  retention      which engines garbage collection deletes (pure)
  building       the download and build steps with progress output and timings
  cli            the command line
"""

__version__ = "0.1.0"
