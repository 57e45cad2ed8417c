# syntax=docker/dockerfile:1
# The StellarFlow image: one build runs the API (`stellarflow api`), the workers (`stellarflow worker`) and the
# one-shot `stellarflow bootstrap`. docker-compose.yml runs it; docs/deploy.md says how and why.
#
#   docker build -t stellarflow:0.1.0 .
#
# Base images are pinned by tag (add `@sha256:…` digests in your registry mirror if you need byte-for-byte builds);
# bump both stages together.

# ---- build: the project as a wheel, installed with its dependencies into a self-contained venv --------------------
FROM python:3.11.13-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/stellarflow && /opt/stellarflow/bin/pip install --upgrade pip

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib;print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
      > requirements.txt \
 && /opt/stellarflow/bin/pip install -r requirements.txt

# Then the project itself (the packages pyproject.toml names, and worker.py), as a wheel.
COPY README.md worker.py ./
COPY core/ core/
COPY api/ api/
COPY cli/ cli/
COPY mcp_server/ mcp_server/
COPY workflows/ workflows/
COPY activities/ activities/
RUN /opt/stellarflow/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/stellarflow/bin/pip install --no-deps /wheels/stellarflow-*.whl \
 && /opt/stellarflow/bin/python -m compileall -q /opt/stellarflow/lib

# ---- runtime: slim, non-root, with bubblewrap for the command sandbox ---------------------------------------------
FROM python:3.11.13-slim-bookworm AS runtime

# bubblewrap: the sandbox commands run in (STELLARFLOW_SANDBOX=bwrap; the container needs user namespaces, see
# docs/deploy.md). tini: PID 1, so orphaned grandchildren of user commands are reaped and signals reach the app.
# git: the checkout step of the shipped CI definition. Build FROM this image to add the toolchains your steps run.
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap git tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 stellarflow \
 && useradd --system --uid 10001 --gid stellarflow --home-dir /home/stellarflow --create-home \
        --shell /usr/sbin/nologin stellarflow \
 && install -d -o stellarflow -g stellarflow -m 0700 /var/lib/stellarflow /var/lib/stellarflow-workspaces

COPY --from=build /opt/stellarflow /opt/stellarflow
COPY definitions/ /app/definitions/
COPY docs/dsl.md /app/docs/dsl.md

# The data dir holds local artifacts (workers: a shared volume) and, for the bootstrap job, the CLI's key; run
# workspaces live beside it (STELLARFLOW_WORKSPACES_DIR, workers: a shared volume). The server secret comes from
# STELLARFLOW_JWT_SECRET, never from the image.
ENV PATH=/opt/stellarflow/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/stellarflow \
    STELLARFLOW_DATA_DIR=/var/lib/stellarflow \
    STELLARFLOW_DEFINITIONS_DIR=/app/definitions \
    STELLARFLOW_API_HOST=0.0.0.0 \
    STELLARFLOW_API_PORT=8000
WORKDIR /app
USER 10001:10001
EXPOSE 8000

ENTRYPOINT ["tini", "--", "stellarflow"]
CMD ["--help"]
