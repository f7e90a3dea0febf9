"""The application log: a rotating file in the user log folder that never contains health data.

Log records carry what the program did (commands, timings, counts, error types), never participant ids, codes,
note text or file contents. A filter masks anything that looks like a Kids First identifier, an HPO / MONDO code or
an S3 secret in case a message slips through, so a log can be attached to a bug report.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

from kfexplorer.config import log_dir

LOG_FILE_NAME = "kfexplorer.log"
MAX_BYTES = 2_000_000
BACKUP_COUNT = 5

_SENSITIVE = re.compile(
    r"\b(?:PT|BS|FM|SD|GF)_[A-Z0-9]{8}\b"  # Kids First ids
    r"|\b(?:HP|MONDO|NCIT):\d{4,}\b"  # phenotype / diagnosis codes
    r"|(?i:aws_secret_access_key|aws_session_token)\S*"  # secrets, should one ever be formatted
)


class RedactHealthData(logging.Filter):
    """Replaces identifiers and codes in a record's message with a placeholder."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SENSITIVE.sub("[redacted]", message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = _SENSITIVE.sub("[redacted]", text)
            record.exc_info = None
        return True


def setup_logging(folder: Path | None = None, level: int = logging.INFO) -> Path:
    """Attach the rotating file handler to the `kfexplorer` logger once; returns the log file path."""
    folder = folder or log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE_NAME
    logger = logging.getLogger("kfexplorer")
    for handler in logger.handlers:
        if isinstance(handler, logging.handlers.RotatingFileHandler) and Path(handler.baseFilename) == path:
            return path
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactHealthData())
    logger.addHandler(handler)
    logger.setLevel(level)
    return path
