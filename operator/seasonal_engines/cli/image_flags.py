"""The image flags that ``seasonal run`` and ``seasonal render-job`` share: which image the build Job's init
container copies ``seasonal_build`` from, the pull secrets, and an NGC registry mirror. The chart sets them
from ``image.*``, ``imagePullSecrets`` and ``ngcRegistry``."""

from __future__ import annotations

import argparse

from seasonal_engines.core import images


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--builder-image", default=images.DEFAULT_IMAGE, metavar="IMAGE",
                   help="our image, from which each build Job's init container copies seasonal_build; the "
                        "operator's own image (default: %(default)s)")
    p.add_argument("--image-pull-secret", action="append", default=[], metavar="NAME",
                   help="a Secret in the InferenceService's namespace for pulling the build Job's and Triton's "
                        "images (repeat)")
    p.add_argument("--ngc-registry", default=None, metavar="HOST[/PATH]",
                   help="a mirror of nvcr.io: build Jobs and Triton pods pull NVIDIA's NGC images from it instead")


def image_settings(args: argparse.Namespace) -> images.ImageSettings:
    """The settings the flags describe; a ValueError naming the flag when one is malformed."""
    return images.ImageSettings(builder_image=args.builder_image, pull_secrets=tuple(args.image_pull_secret),
                                ngc_registry=args.ngc_registry or None)
