"""Reading what a user typed, strictly: whole numbers in ASCII digits, the known MetalLB releases, values
echoed back cut short, and the YAML of ``kindlb run -p name=value`` kept to plain scalars and short lists.

Python's ``int()`` reads fullwidth ``２５``, Arabic-Indic ``١٠``, ``1_0`` and `` 25 ``; YAML 1.1 reads ``010``
as 8 and ``1_0`` as 10. None of these is what a learner meant to type, so each is refused with the fix.

Pure logic: standard library and yaml only.

>>> whole_number("25", "--size")
25
>>> whole_number("２５", "--size")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
kindlb_helpers._core.errors.BadInput: --size '２５': write a whole number in ASCII digits 0-9, e.g. --size 25
>>> known_release("0.16.1")
'v0.16.1'
>>> cut("x" * 100)  # doctest: +ELLIPSIS
"'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... (100 characters)"
"""
from __future__ import annotations

import re

from .errors import BadInput, BadVersion
from .release import Release

#: How much of a value a message echoes back.
ECHO = 60
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
#: The most text one ``-p`` value may hold, and the most items its list may have.
PARAM_TEXT_LIMIT = 256 << 10
PARAM_LIST_LIMIT = 20_000


def cut(value: object, limit: int = ECHO) -> str:
    """``repr(value)``, cut to about LIMIT characters with the full length noted: for echoing input back."""
    text = value if isinstance(value, str) else None
    shown = repr(value) if text is None else repr(text)
    if len(shown) <= limit:
        return shown
    size = f"{len(text):,} characters" if text is not None else f"a {type(value).__name__}"
    return f"{shown[:limit - 8]}'... ({size})" if text is not None else f"{shown[:limit - 8]}... ({size})"


def whole_number(text: object, what: str, example: int = 25) -> int:
    """TEXT as a whole number when it is ASCII digits only (``25``); BadInput naming WHAT otherwise."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    if not isinstance(text, str) or not _DIGITS.fullmatch(text) or len(text) > 18:
        raise BadInput(f"{what} {cut(text)}: write a whole number in ASCII digits 0-9, e.g. {what} {example}")
    return int(text)


def known_release(version: object, what: str = "MetalLB version") -> str:
    """The known MetalLB release VERSION names (``0.16.1`` -> ``v0.16.1``), else BadVersion with the choices.

    Read by :class:`~kindlb_helpers._core.release.Release` (ASCII digits only, no pre-release: ``v0.16.1-rc1``
    is not ``v0.16.1``), and written out whole here: exactly three parts.
    """
    from .versions import METALLB_CHOICES

    try:
        wanted = Release.parse(version)
    except BadVersion as exc:
        raise BadVersion(f"{what}: {exc}; {METALLB_CHOICES}") from None
    if not wanted.known or not isinstance(version, str) or version.lstrip("v") != wanted.tag[1:]:
        raise BadVersion(f"{what} {cut(version)} is not a MetalLB release the notebooks know: {METALLB_CHOICES}")
    return wanted.tag


def yaml_param(name: str, text: str):
    """The value of ``-p NAME=TEXT``, read as YAML: a plain scalar, or a flat list of them.

    Refused (BadInput): more than ``PARAM_TEXT_LIMIT`` characters, mappings, nested lists, tags, anchors and
    aliases, lists of more than ``PARAM_LIST_LIMIT`` items, and numbers YAML 1.1 reads unlike a person does
    (``010`` is 8, ``1_0`` is 10, ``0x10`` is 16, ``1e1`` stays text): write whole numbers as plain digits.
    """
    import yaml

    fix = f"quote text, e.g. -p {name}='\"...\"', or give a number, true/false, or a list like [a, b]"
    if len(text) > PARAM_TEXT_LIMIT:
        raise BadInput(f"-p {name}: {len(text):,} characters is more than a parameter holds "
                       f"({PARAM_TEXT_LIMIT:,}): {fix}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, when there: 256 KiB in well under 1 s
    try:
        if any(isinstance(e, yaml.AliasEvent) or getattr(e, "anchor", None) for e in yaml.parse(text, Loader=loader)):
            raise BadInput(f"-p {name}: YAML anchors and aliases (&, *) are not taken in a parameter: {fix}")
        node = yaml.compose(text, Loader=loader)
    except yaml.YAMLError as exc:
        where = str(exc).splitlines()[0][:80]
        raise BadInput(f"-p {name}: {cut(text)} is not a YAML value ({where}): {fix}") from None
    if node is None:
        return None
    scalars = [node] if isinstance(node, yaml.ScalarNode) else None
    if isinstance(node, yaml.SequenceNode):
        if len(node.value) > PARAM_LIST_LIMIT:
            raise BadInput(f"-p {name}: a list of {len(node.value):,} items is more than a parameter holds "
                           f"({PARAM_LIST_LIMIT:,})")
        if all(isinstance(v, yaml.ScalarNode) for v in node.value):
            scalars = node.value
    if scalars is None:
        raise BadInput(f"-p {name}: {cut(text)} is a YAML mapping or a nested list; a parameter is one value or "
                       f"a flat list: {fix}")
    for s in scalars:
        if s.tag.startswith("tag:yaml.org,2002:") and s.tag.rsplit(":", 1)[1] in ("int", "float") and \
                not s.style and not re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?", s.value, re.ASCII):
            raise BadInput(f"-p {name}: {cut(s.value)} reads as a different number in YAML 1.1 (leading 0 = octal, "
                           f"_ and 0x too): write plain digits like 10, or quote it to mean text")
        if s.tag not in _PLAIN_TAGS:
            raise BadInput(f"-p {name}: {cut(s.value)} carries the YAML tag {cut(s.tag)}: {fix}")
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader: SafeLoader or CSafeLoader)
    except yaml.YAMLError as exc:
        where = str(exc).splitlines()[0][:80]
        raise BadInput(f"-p {name}: {cut(text)} is not a YAML value ({where}): {fix}") from None


_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null")}
