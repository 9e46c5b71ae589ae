# A small image serving a langserve-like app with uvicorn.
#
#   docker build -t langserve-like-app .
#   docker run --rm -p 8000:8000 langserve-like-app
#   curl -N http://127.0.0.1:8000/joke/stream \
#     -H 'Content-Type: application/json' -d '{"input": {"topic": "containers"}}'
#
# For your own app: COPY your module instead of examples/ and change the CMD target,
# e.g. CMD ["langserve-like", "serve", "app.py:app", "--host", "0.0.0.0", "--port", "8000"].
# tests/test_cli.py runs this file's `pip install` and CMD lines outside Docker.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The package first, so this layer is cached while only the app changes.
COPY pyproject.toml README.md LICENSE ./
COPY langserve_like ./langserve_like
COPY playground ./playground
RUN pip install --no-cache-dir ".[server]"

COPY examples ./examples

RUN useradd --create-home --uid 10001 app
USER app

EXPOSE 8000
# One process per container; scale with more containers, or add "--workers", "4".
CMD ["langserve-like", "serve", "examples/01_joke_chain.py:app", "--host", "0.0.0.0", "--port", "8000"]
