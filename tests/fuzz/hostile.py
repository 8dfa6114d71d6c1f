"""Hypothesis strategies for what a careless or hostile user can hand Counsel.

Text with NUL, other C0/C1 controls and bidirectional overrides (U+202E, U+2066), a megabyte
of it, lone surrogates (a non-UTF-8 command-line argument as Python decodes it), YAML of any
shape, and files as bytes: UTF-8 with and without a BOM, GB18030 (GBK) and Latin-1 encoded
Chinese and accented text, UTF-16, binary noise, empty and blank files.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

__all__ = [
    "CONTROLS",
    "BIDI",
    "hostile_text",
    "argv_text",
    "yaml_values",
    "encode_document",
    "file_bytes",
    "mutate_mapping",
    "MB",
    "ENCODINGS",
    "mostly",
]

MB = 1_000_000
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\x9b"]
BIDI = ["\u202e", "\u202a", "\u202d", "\u2066", "\u2067", "\u2069"]
ODD = ["\r", "\r\n", "\t", "\n", "\ufeff", "\u200b", "\u2028", "e\u0301", "\ufffd", " "]
CJK = ["道路保洁", "王芳", "市容环卫", "建设路", "测试", "东区"]

_specials = st.sampled_from(CONTROLS + BIDI + ODD)
_words = st.sampled_from(CJK + ["ok", "Café", "[bold]", "[/x]", "[/]", "%s", "{0}", "'\""])


@st.composite
def _mixed(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(_specials, _words, st.text(max_size=8)), max_size=6))
    return "".join(parts)


_huge = st.builds(
    lambda piece, n: (piece * n)[:n],
    # U+0958 and U+1D15E are one character that NFC turns into two.
    st.sampled_from(["x", "测", "\u202e", "a\x00", "word ", "\u0958", "\U0001d15e"]),
    st.sampled_from([300, 301, 1_000, 1_001, 4_000, 4_001, 20_000, 20_001, 100_001, MB]),
)

#: Any text a user could type or paste, including what the text policy must refuse.
hostile_text = st.one_of(
    st.text(max_size=20),
    _mixed(),
    _words,
    st.just(""),
    st.just("   "),
    _huge,
)


def _surrogates(text: str) -> str:
    return text.encode("gb18030").decode("utf-8", "surrogateescape")


#: Text that can reach ``sys.argv``: no NUL (an OS cannot pass one), but a GBK argument on a
#: UTF-8 system arrives with lone surrogates.
argv_text = st.one_of(
    hostile_text.map(lambda s: s.replace("\x00", "")),
    st.sampled_from(CJK).map(_surrogates),
)

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),
    hostile_text,
)

#: Any YAML-representable value: scalars, lists and mappings nested a few levels.
yaml_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=4),
    ),
    max_leaves=12,
)


def mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` about four times in five, else ``other``."""
    return st.one_of(valid, valid, valid, valid, other)


def encode_document(data: Any, encoding: str) -> bytes:
    """``data`` as a YAML document in ``encoding`` (characters it cannot hold become ``?``)."""
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1_000_000)
    if encoding == "utf-8-sig":
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    return text.encode(encoding, "replace" if encoding != "utf-8" else "surrogatepass")


ENCODINGS = ["utf-8", "utf-8", "utf-8", "utf-8-sig", "gb18030", "latin-1", "utf-16"]

#: Bytes that are not a sensible document at all.
file_bytes = st.one_of(
    st.just(b""),
    st.just(b"   \n\t\n"),
    st.just(b"\xef\xbb\xbf"),
    st.binary(max_size=64),
    st.sampled_from(CJK).map(lambda s: (s + ": 1\n").encode("gb18030")),
    st.just("név: Café\n".encode("latin-1")),
    st.just(b"key: [unclosed\n"),
    st.just(b"a: &x [1]\nb: *y\n"),
    st.just(b"- !!python/object:os.system [ls]\n"),
    st.just(b"--- 1\n--- 2\n"),
)


@st.composite
def mutate_mapping(
    draw: st.DrawFn, base: dict[str, Any], *, fields: list[str] | None = None
) -> dict[str, Any]:
    """``base`` with a few fields dropped, set to hostile or wrongly typed values, or added."""
    data = dict(base)
    names = list(fields or base) + ["unknown_field", "Title", ""]
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        name = draw(st.sampled_from(names))
        action = draw(st.sampled_from(["drop", "hostile", "value", "value"]))
        if action == "drop":
            data.pop(name, None)
        elif action == "hostile":
            data[name] = draw(hostile_text)
        else:
            data[name] = draw(yaml_values)
    return data
