"""The local mode: the operator's decision core against a world on this machine (no cluster, no GPU).

``seasonal quickstart`` runs it. Real Prometheus scrapes a real Triton (explicit model control) that
serves the CPU stand-in engine; a shared trace is replayed into it at accelerated speed; every evaluation
gathers what the Kubernetes reconciler would (profiles from Prometheus, the build, the rollout, the engine
store), calls ``core.decisions.decide`` and applies its actions locally: builds are local processes
(``python -m seasonal_build build --backend cpu-stand-in``), rollovers load the new engine through
Triton's repository API.

| module | what it is |
|---|---|
| ``timing`` | simulated (trace) time against wall time; profiles read at wall time mapped back (pure) |
| ``workload`` | which trace requests are replayed: the slice, the subsample, the scaled minSamples (pure) |
| ``replaying`` | sends the requests to Triton over gRPC and records how each ended |
| ``builds`` | build Jobs as local processes, with a modelled build duration |
| ``serving`` | rollovers: a serving repository whose model is swapped and reloaded in Triton |
| ``reconciling`` | one evaluation: gather, ``decide``, apply; the journal of what happened |
| ``summary`` | the figures of a run and its table (pure) |
| ``display``, ``plotting`` | the live progress display and the PNG of the envelope over time |
| ``settings`` | the run's settings and the InferenceService it runs, checked before anything starts |
| ``session`` | starts the servers, runs the loop within the time budget, cleans up (also on Ctrl-C) |

The stand-in is a stand-in: nothing here calls it a TensorRT-LLM engine.
"""
