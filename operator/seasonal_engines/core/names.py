"""Names and label values of everything the operator creates for an InferenceService, from one function.

Kubernetes limits a Service name to a DNS-1035 label (63 characters, starting with a letter), Job names to
63 characters (the Job controller copies the name into a label value), and label values to 63 characters.
An InferenceService name is validated to be a DNS-1035 label (CEL in the CRD and ``seasonal validate``),
so it is always a valid label value itself; the children add suffixes (``-triton-green``,
``seasonal-build-<model>-<hash>-<attempt>``) and so can pass 63 characters. ``shortened`` keeps the
suffix and a readable prefix and replaces the rest with a digest of the whole name, so two long names never
collide and every caller (creating, listing, selecting) derives the same string. Pure.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 63
DIGEST = 8
# DNS-1035 label: what a Service name must be, and what an InferenceService name is validated to be.
SERVICE_NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"


def shortened(prefix: str, suffix: str = "", limit: int = MAX_NAME) -> str:
    """``prefix + suffix`` when it fits in ``limit``; else prefix cut short, a digest of the whole, suffix.

    The result is lowercase alphanumeric and '-', starting and ending alphanumerically when the inputs do."""
    whole = f"{prefix}{suffix}"
    if len(whole) <= limit:
        return whole
    digest = hashlib.sha256(whole.encode()).hexdigest()[:DIGEST]
    room = limit - len(suffix) - DIGEST - 1
    if room < 1:
        raise ValueError(f"suffix {suffix!r} leaves no room in {limit} characters")
    head = prefix[:room].rstrip("-.")
    return f"{head}-{digest}{suffix}"


def label_value(value: str) -> str:
    """A valid label value for ``value``: itself when it is one, else cleaned and shortened with a digest."""
    if len(value) <= MAX_NAME and re.fullmatch(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?", value):
        return value
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", value).strip("-_.") or "x"
    digest = hashlib.sha256(value.encode()).hexdigest()[:DIGEST]
    return f"{cleaned[:MAX_NAME - DIGEST - 1].rstrip('-_.')}-{digest}"


def triton_service(service: str) -> str:
    """The Service clients use."""
    return shortened(service, "-triton")


def triton_deployment(service: str, colour: str | None = None) -> str:
    """The operator-owned Triton Deployment (one per colour with BlueGreen)."""
    return shortened(service, "-triton" + (f"-{colour}" if colour else ""))


def build_job(model: str, engine_hash: str, attempt: int) -> str:
    """``seasonal-build-<model>-<hash[:12]>-<attempt>``: a new name for every attempt, so a failed Job stays
    for its logs and is never mistaken for the next one."""
    return shortened(f"seasonal-build-{_dns(model)}-{engine_hash[:12]}", f"-{attempt}")


def plan_config_map(model: str, engine_hash: str) -> str:
    """The ConfigMap carrying a plan (one per engine: every attempt builds the same plan)."""
    return shortened(f"seasonal-plan-{_dns(model)}", f"-{engine_hash[:12]}")


def _dns(text: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", text.lower()).strip("-") or "model"


__all__ = ["shortened", "label_value", "triton_service", "triton_deployment", "build_job", "plan_config_map",
           "SERVICE_NAME_PATTERN", "MAX_NAME"]
