# TaskFlow's image: the runtime requirements only (no test tooling), hashed static files
# collected at build time, and a non-root user. docker-compose.yml runs every service from it.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

RUN groupadd --system taskflow && useradd --system --gid taskflow --home-dir /app taskflow

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=taskflow:taskflow . .
# Hashed, pre-compressed copies in /app/staticfiles (settings.STORAGES); a throwaway key:
# collectstatic reads settings but signs nothing.
RUN DJANGO_DEBUG=0 DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0 \
    && chown -R taskflow:taskflow /app/staticfiles

USER taskflow
EXPOSE 8000
CMD ["python", "-m", "kanban_board.serve", "-b", "0.0.0.0", "-p", "8000"]
