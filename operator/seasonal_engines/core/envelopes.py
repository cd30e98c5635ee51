"""The envelope: the request limits an engine is compiled for. Pure data."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Envelope:
    """Build-time limits of one engine (TensorRT-LLM ``build_config`` names, in tokens or requests)."""

    max_input_len: int
    max_seq_len: int
    max_batch_size: int
    max_num_tokens: int

    def fits(self, input_tokens: int, output_tokens: int) -> bool:
        """Whether a request runs to completion without rejection or an early stop at the engine's limit."""
        return input_tokens <= self.max_input_len and input_tokens + output_tokens <= self.max_seq_len

    def summary(self) -> str:
        """Short form for kubectl columns and logs: ``in 4096 / seq 8192 / bs 256``."""
        return f"in {self.max_input_len} / seq {self.max_seq_len} / bs {self.max_batch_size}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Envelope:
        return cls(**{k: int(d[k]) for k in ("max_input_len", "max_seq_len", "max_batch_size", "max_num_tokens")})
