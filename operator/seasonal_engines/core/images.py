"""Container image references: ours, and NVIDIA's NGC images behind a registry mirror.

One image of ours serves two roles: it runs the operator (``seasonal run``), and every build Job's init
container copies the ``seasonal_build`` package out of it. Its default reference is defined here (the
chart's ``image.repository`` names the same repository; a test keeps them equal); installs override it
with chart values, which reach the operator as ``seasonal run`` flags. Pure: strings in, strings out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from seasonal_engines import __version__

DEFAULT_REPOSITORY = "ghcr.io/seasonal-engines/seasonal-engines"
DEFAULT_IMAGE = f"{DEFAULT_REPOSITORY}:{__version__}"
NGC_REGISTRY = "nvcr.io"
"""NVIDIA's registry: the images ``spec.engine.image`` names by default."""

# A registry host (with an optional port) and an optional path: what goes before "/nvidia/..." in a mirror.
_REGISTRY = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*")
_SECRET_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")
# The reference grammar of the distribution spec, lowercase hosts only: NAME[:TAG][@sha256:DIGEST].
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(rf"(?:[a-z0-9.-]+(?::[0-9]{{1,5}})?/)?{_COMPONENT}(?:/{_COMPONENT})*"
                        r"(?P<tag>:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?P<digest>@sha256:[0-9a-f]{64})?")


@dataclass(frozen=True)
class ImageSettings:
    """Where the images of a build Job come from (``seasonal run`` flags, set by the chart)."""

    builder_image: str = DEFAULT_IMAGE
    """Our image, for the init container that copies ``seasonal_build`` into the build pod."""
    pull_secrets: tuple[str, ...] = ()
    """Secrets (in the InferenceService's namespace) for pulling both our image and NVIDIA's."""
    ngc_registry: str | None = None
    """A mirror of nvcr.io (``registry.example.com/nvcr``): NGC images are pulled from it instead."""

    def __post_init__(self) -> None:
        check_reference(self.builder_image, "builder image (--builder-image, chart image.*)")
        for name in self.pull_secrets:
            if not _SECRET_NAME.fullmatch(name):
                raise ValueError(f"image pull secret {name!r} (--image-pull-secret, chart imagePullSecrets) is "
                                 "not a Secret name: lowercase letters, digits, '-' and '.'")
        if self.ngc_registry is not None and not _REGISTRY.fullmatch(self.ngc_registry):
            raise ValueError(f"NGC registry mirror {self.ngc_registry!r} (--ngc-registry, chart ngcRegistry) must "
                             "be a registry host with an optional port and path, without scheme or trailing '/', "
                             "e.g. registry.example.com/nvcr")


def check_reference(image: str, what: str) -> str:
    """``image`` when it is a pinned reference (a tag or a digest), else a ValueError naming ``what``."""
    found = _REFERENCE.fullmatch(image) if len(image) <= 512 else None
    if found is None or not (found["tag"] or found["digest"]):
        raise ValueError(f"{what} {image!r} is not an image reference: REGISTRY/REPOSITORY:TAG or "
                         "REGISTRY/REPOSITORY@sha256:<64 hex digits>, lowercase repository")
    return image


def mirrored(image: str, ngc_registry: str | None) -> str:
    """``image`` pulled through the NGC mirror when it is an nvcr.io image; any other image unchanged."""
    if ngc_registry and image.startswith(NGC_REGISTRY + "/"):
        return ngc_registry + image[len(NGC_REGISTRY):]
    return image


UNCHANGED = ImageSettings()  # our default image, NGC images from nvcr.io, no pull secrets


__all__ = ["UNCHANGED", "DEFAULT_IMAGE", "DEFAULT_REPOSITORY", "NGC_REGISTRY", "ImageSettings", "check_reference",
           "mirrored"]
