"""Replaying per-request traces through the operator's decision core in simulated time.

``simulating`` drives ``core.decisions.decide`` against a simulated world (``world``: builds and rollouts
that take time) with the profiles the serving engines' exporter would have exported (``exports``:
censored, in the preset's buckets). ``baselines`` plans the static and oracle engines, ``scoring`` judges
every request by the engine it met, ``comparing`` does all of that for one trace, ``reports`` writes the
JSON contract and the table, ``shifts`` injects known changes for drift benchmarks, and ``plotting``
draws the envelopes over time (the only module here that writes a file).
"""
