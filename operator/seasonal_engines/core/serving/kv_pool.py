"""The paged KV cache of one replica, in blocks of ``tokens_per_block`` tokens.

A sequence holds whole blocks: ``blocks_for(tokens)`` rounds up, as TensorRT-LLM's KV cache manager does.
The pool only counts; which request holds how many blocks is the scheduler's bookkeeping. Mutable by
design (one pool per simulation), no I/O.
"""

from __future__ import annotations


class KvPool:
    """Free and total blocks of one replica's KV cache."""

    def __init__(self, total_blocks: int, tokens_per_block: int):
        if total_blocks < 1 or tokens_per_block < 1:
            raise ValueError(f"a KV pool needs at least one block of at least one token, got {total_blocks} "
                             f"blocks of {tokens_per_block}")
        self.total = int(total_blocks)
        self.tokens_per_block = int(tokens_per_block)
        self.free = self.total

    def blocks_for(self, tokens: int) -> int:
        """Blocks a sequence of ``tokens`` tokens occupies (at least one)."""
        return max(1, -(-int(tokens) // self.tokens_per_block))

    @property
    def used(self) -> int:
        return self.total - self.free

    def take(self, blocks: int) -> bool:
        """Allocate ``blocks`` if that many are free; False (and nothing taken) otherwise."""
        if blocks < 0:
            raise ValueError(f"cannot take a negative number of blocks ({blocks})")
        if blocks > self.free:
            return False
        self.free -= blocks
        return True

    def give(self, blocks: int) -> None:
        """Return ``blocks`` to the pool."""
        if blocks < 0 or self.free + blocks > self.total:
            raise ValueError(f"returning {blocks} blocks to a pool with {self.free} of {self.total} free")
        self.free += blocks


__all__ = ["KvPool"]
