# TechTribe API image.
#
#   docker build -t techtribe .
#   docker run --rm -p 8000:8000 -e JWT_SECRET=... \
#       -e DATABASE_URL=postgresql+asyncpg://user:pass@host:5432/techtribe techtribe
#
# The builder installs the package and exactly the dependency versions of uv.lock (with their
# hashes) into /opt/venv; the runtime stage copies that venv, the Alembic scripts and
# alembic.ini, and runs as an unprivileged user. Every dependency ships manylinux wheels
# (amd64 and arm64), so no compiler is needed.

# Both stages must use the same interpreter: the venv links to /usr/local/bin/python3.11.
# 3.11 is the version CI tests. Add the digest (@sha256:...) when bumping, if you can
# resolve it (e.g. `docker buildx imagetools inspect python:3.11.16-slim-trixie`).
ARG PYTHON_IMAGE=python:3.11.16-slim-trixie

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

# The same uv version as ./dev (UV_VERSION there).
ARG UV_VERSION=0.13.9

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1 \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

RUN pip install --no-cache-dir "uv==${UV_VERSION}"

WORKDIR /build
# The lock and the metadata first, so the dependency layer is cached until they change.
COPY pyproject.toml uv.lock ./
# --locked: refuse a lock that doesn't match pyproject.toml. No dev extra, not the project.
RUN uv sync --locked --no-install-project --no-editable
# Exactly what the hatchling build reads: the README it uses as the long description
# (`readme = "README.md"`) and the package (code + static Swagger UI and ReDoc files).
COPY README.md ./
COPY src/ src/
# A regular (non-editable) install: the venv holds a copy of the package, not a link to
# /build. The bytecode is compiled here, since the runtime can't write to the venv.
RUN uv sync --locked --no-editable \
    && techtribe --help > /dev/null

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# DATABASE_URL: the embedded SQLite default, moved to the one writable directory (mount a
# volume there to keep it, and run one worker, WEB_CONCURRENCY=1: on SQLite the workers'
# outbox deliverers can't lock rows). compose.yaml and real deployments use PostgreSQL.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    LOG_FORMAT=json \
    DATABASE_URL=sqlite+aiosqlite:////app/data/techtribe.db

WORKDIR /app

# The code, the venv and alembic/ stay owned by root (read-only for the service);
# only /app/data belongs to the service user.
RUN groupadd --system --gid 10001 techtribe \
    && useradd --system --no-log-init --uid 10001 --gid techtribe \
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin techtribe \
    && mkdir /app/data \
    && chown techtribe:techtribe /app/data

COPY --from=builder /opt/venv /opt/venv
# `techtribe migrate` / `serve` look for alembic.ini and alembic/ in the working directory.
COPY alembic.ini ./
COPY alembic/ alembic/

# Numeric, so orchestrators can check runAsNonRoot.
USER 10001:10001

EXPOSE 8000

# Liveness only (/healthz touches no dependency); /readyz is for load balancers.
# No proxy (ProxyHandler({})): an HTTP_PROXY in the environment must not catch 127.0.0.1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:8000/healthz', timeout=4)"]

# `serve` applies the migrations, then starts uvicorn with WEB_CONCURRENCY worker
# processes. `exec` makes techtribe PID 1, so it receives SIGTERM and shuts down cleanly.
CMD ["sh", "-c", "exec techtribe serve --host 0.0.0.0 --port 8000 --workers \"${WEB_CONCURRENCY:-2}\""]
