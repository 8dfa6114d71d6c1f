"""Import and export the expertise database as YAML or as a directory of CSV files.

:func:`read_expertise` and :func:`write_expertise` take whichever format a path is. Both
formats hold the same records and round-trip losslessly through
:class:`~experts.model.ExpertiseData`.

Reading checks every row: its fields, and that everything it names exists. Any bad row
raises :class:`~experts.exceptions.ExpertiseImportError` listing file, line and reason for
each problem, and nothing is returned, so nothing of the file can be imported. A file that
is not in its encoding, missing, a folder, binary or empty is refused with a sentence that
says so (:class:`~experts.exceptions.ExpertiseEncodingError` for the encoding).

The surface (import from here; the modules are how it is kept):

=============================  =====================================================
:mod:`.yaml_document`          ``FORMAT``, ``read_yaml``, ``write_yaml``,
                               ``parse_yaml_text``, ``dump_yaml_text``
:mod:`.csv_directory`          ``CSV_FILES``, ``read_csv_dir``, ``write_csv_dir``
:mod:`.text`                   ``read_text``, ``DEFAULT_ENCODING`` (reading a file, and
                               the refusals every format shares)
:mod:`.rows`                   how rows become records and are checked against each other
=============================  =====================================================
"""

from __future__ import annotations

from pathlib import Path

from experts.io.csv_directory import CSV_FILES, read_csv_dir, write_csv_dir
from experts.io.text import DEFAULT_ENCODING, read_text, refuse
from experts.io.yaml_document import (
    FORMAT,
    dump_yaml_text,
    parse_yaml_text,
    read_yaml,
    write_yaml,
)
from experts.model import ExpertiseData

__all__ = [
    "FORMAT",
    "CSV_FILES",
    "read_expertise",
    "write_expertise",
    "read_yaml",
    "write_yaml",
    "read_csv_dir",
    "read_text",
    "DEFAULT_ENCODING",
    "write_csv_dir",
    "parse_yaml_text",
    "dump_yaml_text",
]


def read_expertise(
    path: str | Path, *, known: ExpertiseData | None = None, encoding: str = DEFAULT_ENCODING
) -> ExpertiseData:
    """Read YAML (``.yaml``/``.yml``) or a CSV directory, whichever ``path`` is.

    Parameters
    ----------
    path : str or Path
        A ``.yaml``/``.yml`` file or a folder of CSV files.
    known : ExpertiseData, optional
        Records already in the database that rows may refer to (when merging).
    encoding : str
        The encoding of the file or files (default UTF-8, with or without a BOM).

    Returns
    -------
    ExpertiseData
        Never empty.

    Raises
    ------
    ExpertiseImportError
        If the file cannot be read, has bad rows or holds no records.
    """
    path = Path(path)
    yaml_suffix = path.suffix.lower() in (".yaml", ".yml")
    if path.is_dir() and not yaml_suffix:
        data = read_csv_dir(path, known=known, encoding=encoding)
    elif yaml_suffix:
        data = read_yaml(path, known=known, encoding=encoding)
    elif not path.exists():
        raise refuse(path, "there is no file or folder here")
    else:
        raise refuse(path, "give a .yaml file or a directory of CSV files")
    if not (data.topics or data.districts or data.organisations or data.experts):
        raise refuse(
            path,
            "it holds no topics, districts, organisations or experts; there is nothing to import",
        )
    return data


def write_expertise(data: ExpertiseData, path: str | Path) -> None:
    """Write YAML if ``path`` ends in ``.yaml``/``.yml``, else a CSV directory there."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        write_yaml(data, path)
    else:
        write_csv_dir(data, path)
