"""Read an import file's text, or refuse it with a sentence that says what is wrong.

Every importer reads through :func:`read_text`, so a person gets the same answer whichever
format they chose. Files are UTF-8 unless ``encoding`` says otherwise (e.g. ``"gb18030"`` for
files saved by Chinese Excel or Notepad as GBK). A file that is not in its encoding is refused
with the first bad line and byte and how to convert it
(:class:`~experts.exceptions.ExpertiseEncodingError`); so are a missing file, a folder where a
file should be, a binary file and an empty file.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from experts.exceptions import ExpertiseEncodingError, ExpertiseImportError, RowProblem

__all__ = ["DEFAULT_ENCODING", "read_text", "refuse", "text_codec"]

#: The encoding files are read in unless the caller says otherwise (a BOM is accepted).
DEFAULT_ENCODING = "utf-8"


def refuse(file: str | Path, reason: str, line: int = 0) -> ExpertiseImportError:
    """The import error for one problem with a whole file (``line`` 0) or one line of it."""
    return ExpertiseImportError(problems=(RowProblem(file=str(file), line=line, reason=reason),))


def text_codec(encoding: str, path: str | Path) -> str:
    """The codec to read ``encoding`` with (UTF-8 also accepts a BOM).

    Raises
    ------
    ExpertiseImportError
        If ``encoding`` is not a text encoding Python knows (``path`` is named in the
        problem), so a typo is refused before any file is read.
    """
    try:
        info = codecs.lookup(encoding)
        if not getattr(info, "_is_text_encoding", True):  # rot13, hex, base64 … are codecs
            raise LookupError(encoding)  # but not text encodings
        name = info.name
    except LookupError as err:
        raise refuse(
            path, f"{encoding!r} is not a text encoding Python knows (try utf-8 or gb18030)"
        ) from err
    return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else name


def read_text(
    path: str | Path, *, encoding: str = DEFAULT_ENCODING, allow_empty: bool = False
) -> str:
    """The text of a file to import, or a refusal that says what is wrong with it.

    Parameters
    ----------
    path : str or Path
        The file.
    encoding : str
        Its encoding (default UTF-8, with or without a BOM).
    allow_empty : bool
        Return ``""`` for an empty file instead of refusing it.

    Raises
    ------
    ExpertiseEncodingError
        If the bytes are not text in ``encoding``: the first bad line and byte, and how to
        convert the file.
    ExpertiseImportError
        If the file is missing, is a folder, is binary, or is empty.
    """
    path = Path(path)
    codec = text_codec(encoding, path)
    if path.is_dir():
        raise refuse(path, "this is a folder, where a file is expected")
    if not path.exists():
        raise refuse(path, "this file does not exist")
    data = path.read_bytes()
    if not data.strip() and not allow_empty:
        raise refuse(path, "the file is empty; there is nothing to import")
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as err:
        if b"\x00" in data[:4096]:
            raise refuse(path, "this is a binary file, not text") from err
        raise _encoding_error(path, data, err, encoding) from err
    if "\x00" in text:
        raise refuse(path, "this is a binary file, not text")
    return text


def _encoding_error(
    path: Path, data: bytes, err: UnicodeDecodeError, encoding: str
) -> ExpertiseEncodingError:
    """Where ``data`` stops being ``encoding``, and what to do about it."""
    start = err.start
    line = data.count(b"\n", 0, start) + 1
    column = start - (data.rfind(b"\n", 0, start) + 1) + 1
    guess: str | None = None
    for candidate in ("gb18030", "big5", "utf-16"):
        if candidate == encoding.lower():
            continue
        try:
            data.decode(candidate)
        except UnicodeDecodeError:
            continue
        guess = candidate
        break
    return ExpertiseEncodingError(
        file=str(path),
        line=line,
        column=column,
        offset=start,
        byte=data[start],
        encoding=encoding,
        guess=guess,
    )
