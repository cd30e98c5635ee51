"""Writing a matplotlib figure to a PNG file: one place for the directory, resolution and closing."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_png(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` (parents created) and release it; returns the path."""
    import matplotlib.pyplot as plt

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, format="png")
    plt.close(fig)
    return out
