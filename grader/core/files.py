"""Files the kit writes for people to open: atomically, and CSV cells a spreadsheet
will not run.

* ``write_atomic``: temp file in the same folder, fsync, ``os.replace``. An instructor
  re-grading into the same ``OUT`` never finds a half-written file, even if the grader is
  killed mid-write, and readers (a spreadsheet, a browser) see the old file or the new one.
* ``csv_safe`` and ``csv_text``: every CSV the kit writes (``grades.csv``, the gradebook
  exports and their unmatched sidecars) goes through them, so a student-chosen id such as
  ``=HYPERLINK(...)`` is text in every spreadsheet, and lines end in CRLF (RFC 4180).
* ``id_stem``: the file name of anything named after a submission id (saved results, logs,
  feedback pages): ids are folder names and may hold any character.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

# A cell starting with one of these is a formula to Excel/LibreOffice/Sheets (OWASP
# "CSV injection"); tab and CR are on OWASP's list too.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def write_atomic(path: str | os.PathLike, text: str | bytes, encoding: str = "utf-8", mode: int = 0o644) -> Path:
    """Write ``text`` (or bytes, such as a zip's) to ``path`` so that a crash never leaves a
    half-written file.

    The temp file lives in the same folder (``os.replace`` is only atomic within one
    file system) and is removed if anything fails. ``text`` is written as is (no newline
    translation), so CSV's CRLF survives on every platform.
    """
    path = Path(path)
    data = text if isinstance(text, bytes) else text.encode(encoding)
    handle = tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, mode)  # mkstemp makes 0600: the report is meant to be shared
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    """Persist the rename itself (POSIX); silently skipped where folders can't be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def csv_safe(value: str) -> str:
    """Defuse spreadsheet formulas: ``=HYPERLINK(...)`` becomes the text ``'=HYPERLINK(...)``."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """Rows as CSV text: minimal quoting, CRLF line ends. Cells a student chose go through
    ``csv_safe`` first (the caller knows which ones; a roster's own cells stay as they came)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)  # QUOTE_MINIMAL, CRLF
    return buffer.getvalue()


def id_stem(submission_id: str, digits: int = 8, strip: str = "._") -> str:
    """A safe, unique file stem for a submission id: up to 60 of its letters, digits, ``.``,
    ``_``, ``-`` (``strip`` taken off its ends) and ``digits`` hex digits of the whole id's
    sha256 (a lone surrogate, from a folder name that is not UTF-8, is hashed as it is)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", submission_id)[:60].strip(strip) or "submission"
    return f"{safe}-{hashlib.sha256(submission_id.encode('utf-8', 'surrogatepass')).hexdigest()[:digits]}"
