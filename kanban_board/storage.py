"""Static file storage: WhiteNoise's hashed, compressed names once `collectstatic` has run
(`make run`, `make run-scaled`, the Docker image), plain names before it.

A server started directly (`python -m kanban_board.serve` with DEBUG off, no collectstatic)
would otherwise answer every page with a 500, because `{% static %}` cannot find the name in a
manifest that does not exist. WhiteNoise serves the plain names from the finders
(`WHITENOISE_USE_FINDERS`), so falling back to them keeps every page working, uncached.
"""

from __future__ import annotations

import logging

from whitenoise.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger(__name__)


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:
            logger.warning("static file %s is not collected; serving its plain name", name)
            return name
