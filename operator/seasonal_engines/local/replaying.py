"""Sending the replayed requests to Triton (gRPC, asynchronous) and recording how each one ended.

A request is the trace's: a prompt of ``input_tokens`` whitespace-separated words (the CPU stand-in's
tokenizer counts words) and ``max_tokens`` = the trace's output length, sent to the serving model when
its arrival time comes on the simulated clock. The answer says how it ended: answered, stopped at the
engine's ``max_seq_len`` (``finish_reason`` ``engine_limit``), rejected because the prompt exceeds the
engine's input limit, or not served at all (no model loaded, any other error). Callbacks run on gRPC's
threads and only write their own slot of the outcome array.

Imperative shell: network (tritonclient.grpc).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import tritonclient.grpc as grpcclient

from seasonal_engines.local.summary import outcome_counts
from seasonal_engines.local.workload import Outcome, Workload

REJECTED_WORDS = ("exceeds maximum input length", "exceeds maximum sequence length")


def classify_error(message: str) -> Outcome:
    """A Triton error as an outcome: a length rejection, or the service being unavailable."""
    text = message.lower()
    return Outcome.rejected if any(w in text for w in REJECTED_WORDS) else Outcome.unavailable


def classify_finish(reason: bytes | str) -> Outcome:
    text = reason.decode() if isinstance(reason, bytes) else str(reason)
    return Outcome.limit_stopped if text == "engine_limit" else Outcome.answered


class Replayer:
    """Sends each request of ``workload`` when the simulated clock passes its arrival time."""

    def __init__(self, workload: Workload, grpc_url: str, model_name: str, max_in_flight: int = 256) -> None:
        self.workload = workload
        self.model_name = model_name
        self.max_in_flight = max_in_flight
        self.outcomes = np.full(len(workload), Outcome.not_sent, dtype=np.int8)
        self.next_index = 0
        self.last_error = ""
        self._lock = threading.Lock()
        self._in_flight = 0
        self._client = grpcclient.InferenceServerClient(grpc_url)

    # --- sending ----------------------------------------------------------------------------

    def dispatch_until(self, sim_s: float) -> int:
        """Send every request arriving at or before ``sim_s`` (seconds since day 0) not sent yet."""
        end = self.workload.due(self.next_index, sim_s)
        sent = 0
        for i in range(self.next_index, end):
            with self._lock:
                busy = self._in_flight >= self.max_in_flight
                if not busy:
                    self._in_flight += 1
            if busy:
                self.outcomes[i] = Outcome.skipped
                continue
            self.outcomes[i] = Outcome.in_flight
            try:
                self._client.async_infer(self.model_name, self._inputs(i), self._callback(i))
                sent += 1
            except Exception as exc:  # noqa: BLE001 - the channel refused at once: count it, go on
                self._finish(i, Outcome.unavailable, str(exc))
        self.next_index = end
        return sent

    def _inputs(self, i: int) -> list[grpcclient.InferInput]:
        text = grpcclient.InferInput("text_input", [1, 1], "BYTES")
        text.set_data_from_numpy(np.array([[b"w " * int(self.workload.input_tokens[i])]], dtype=np.object_))
        limit = grpcclient.InferInput("max_tokens", [1, 1], "INT32")
        limit.set_data_from_numpy(np.array([[int(self.workload.output_tokens[i])]], dtype=np.int32))
        return [text, limit]

    def _callback(self, i: int):  # type: ignore[no-untyped-def]
        def done(result, error) -> None:  # type: ignore[no-untyped-def]
            if error is not None:
                self._finish(i, classify_error(str(error)), str(error))
                return
            try:
                reason = result.as_numpy("finish_reason").reshape(-1)[0]
            except Exception as exc:  # noqa: BLE001 - an answer without the stand-in's outputs
                self._finish(i, Outcome.unavailable, f"unexpected answer: {exc}")
                return
            self._finish(i, classify_finish(reason), "")
        return done

    def _finish(self, i: int, outcome: Outcome, error: str) -> None:
        self.outcomes[i] = outcome
        with self._lock:
            self._in_flight -= 1
            if error and outcome == Outcome.unavailable:
                self.last_error = error[:300]

    # --- reading -----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Requests by outcome so far (``sent`` = every request handed to Triton)."""
        return outcome_counts(self.outcomes)

    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def close(self, wait_s: float = 5.0) -> None:
        """Wait up to ``wait_s`` for answers still on their way, then close the channel."""
        deadline = time.monotonic() + wait_s
        while self.in_flight() > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self._client.close()


__all__ = ["Replayer", "Outcome", "classify_error", "classify_finish"]
