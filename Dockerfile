# The Seasonal Engines image. One image, two roles:
#   - the operator: the entrypoint runs `seasonal run` (the chart passes its flags);
#   - the build entrypoint: each build Job's init container copies the `seasonal_build` package
#     (standard library only) out of this image into a shared emptyDir, where NVIDIA's TensorRT-LLM
#     container runs `python3 -m seasonal_build build`. The package lies at
#     /opt/seasonal-engines/lib/python3.11/site-packages/seasonal_build.
#
#   docker build -t REGISTRY/seasonal-engines:TAG .
#
# Python is Debian bookworm's own (3.11); every dependency installs from a wheel, so no stage has a
# compiler. The final stage runs as uid/gid 65532 and writes only under /tmp, so it runs with a
# read-only root filesystem. The base is pinned by tag and digest (BASE_IMAGE, BASE_DIGEST); CI passes
# a Debian bookworm base it made locally (.ci/build-image.sh).
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim
ARG BASE_DIGEST=sha256:40b107342c492725bc7aacbe93a49945445191ae364184a6d24fedb28172f6f7

# --- runtime: the base, Python and our user, shared by both stages below ---
FROM ${BASE_IMAGE}@${BASE_DIGEST} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# Unversioned packages: bookworm takes only security fixes, and old versions leave the mirror.
# kopf calls getpass.getuser() when POD_ID is unset, which needs a passwd entry for the uid.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && echo 'seasonal:x:65532:65532:Seasonal Engines:/tmp:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'seasonal:x:65532:' >> /etc/group

# --- deps: a virtual environment with the dependencies, read from pyproject.toml alone ---
FROM runtime AS deps
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-venv \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/seasonal-engines
WORKDIR /src
# The optional secret `build-ca` is a CA bundle for a TLS-intercepting proxy; it is never stored.
COPY pyproject.toml ./
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \
    --mount=type=secret,id=build-ca,required=false \
    if [ -s /run/secrets/build-ca ]; then export PIP_CERT=/run/secrets/build-ca; fi \
 && python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > /tmp/requirements.txt \
 && /opt/seasonal-engines/bin/pip install --only-binary=:all: -r /tmp/requirements.txt

# --- build: our two packages, staged apart so the image's layer of dependencies outlives code changes ---
FROM deps AS build
COPY README.md ./
COPY operator ./operator
COPY engine_jobs ./engine_jobs
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \
    --mount=type=secret,id=build-ca,required=false \
    if [ -s /run/secrets/build-ca ]; then export PIP_CERT=/run/secrets/build-ca; fi \
 && /opt/seasonal-engines/bin/pip install --no-deps . \
 && /opt/seasonal-engines/bin/python -c 'import seasonal_build, seasonal_engines.cli.main' \
 && venv=/opt/seasonal-engines site=lib/python3.11/site-packages \
 && mkdir -p "/stage/$site" /stage/bin \
 && cp -a "$venv/$site/seasonal_engines" "$venv/$site/seasonal_build" "$venv/$site"/seasonal_engines-*.dist-info \
      "/stage/$site/" \
 && cp -a "$venv/bin/seasonal" /stage/bin/

# pip and setuptools only install: the image has neither.
FROM deps AS venv
RUN /opt/seasonal-engines/bin/pip uninstall -y -q pip setuptools

# --- the image ---
FROM runtime
ARG BASE_IMAGE
ARG BASE_DIGEST
ARG VERSION=""
ARG REVISION=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="seasonal-engines" \
      org.opencontainers.image.description="Kubernetes operator that keeps TensorRT-LLM engines sized to the traffic they serve; also carries the seasonal_build entrypoint of its build Jobs" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}" \
      org.opencontainers.image.base.digest="${BASE_DIGEST}"
COPY --from=venv /opt/seasonal-engines /opt/seasonal-engines
COPY --from=build /stage /opt/seasonal-engines
# Bytecode was compiled at install time; caches (matplotlib's, HOME) go to the writable /tmp.
ENV PATH=/opt/seasonal-engines/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["seasonal"]
CMD ["run"]
