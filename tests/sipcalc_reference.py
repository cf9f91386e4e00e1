"""Run the real `sipcalc` binary and read its output back (for tests/test_sipcalc.py).

sipcalc takes many arguments in one run and prints one block per argument:

    -[ipv4 : 10.0.0.1/31] - 0          <- header, echoing the argument
    <blank>
    [CIDR]                             <- or [IPV6 INFO]
    Host address\t\t- 10.0.0.1         <- label, tabs, "- ", value
    ...
    Network range\t\t- fe80:... -      <- IPv6 only: the range wraps to
    \t\t\t  febf:...                   <- a continuation line
    <blank>
    -                                  <- end of block

A bad argument gives "-[int-ipv4 : ARG] - 0" (sipcalc then tries it as an
interface name) or "-[ipv6 : ARG] - 0", followed by a "-[ERR : ...]" line.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

import pytest

SIPCALC = shutil.which("sipcalc")
_HEADER = re.compile(r"-\[(?P<kind>[\w-]+) : (?P<arg>.*)\] - \d+")
_ROW = re.compile(r"(?P<label>[^\t]+)\t+- (?P<value>.*)")
_CONTINUATION = "\t\t\t  "


@dataclass
class Block:
    """What sipcalc printed for one argument."""

    arg: str
    kind: str
    text: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None


def require_sipcalc() -> str:
    """Path of the binary; fail in CI (where it must be installed), skip elsewhere."""
    if SIPCALC:
        return SIPCALC
    message = "the sipcalc program is not installed: apt-get install sipcalc"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _section_rows(lines: list[str]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for line in lines:
        if line.startswith(_CONTINUATION) and rows:
            label, value = rows[-1]
            rows[-1] = (label, f"{value} {line.strip()}")
            continue
        match = _ROW.fullmatch(line)
        assert match, f"unexpected sipcalc line {line!r}"
        rows.append((match["label"], match["value"]))
    return rows


def parse_output(stdout: str) -> list[Block]:
    """Split sipcalc's stdout into blocks and parse the [CIDR] / [IPV6 INFO] rows."""
    blocks: list[Block] = []
    lines = stdout.split("\n")
    i = 0
    while i < len(lines):
        header = _HEADER.fullmatch(lines[i])
        if not header:
            assert lines[i] == "", f"unexpected sipcalc line {lines[i]!r}"
            i += 1
            continue
        end = lines.index("-", i)
        body = lines[i + 1:end]
        block = Block(header["arg"], header["kind"], "\n".join(lines[i:end + 1]))
        errors = [line for line in body if line.startswith("-[ERR : ")]
        if errors:
            block.error = errors[0]
        elif "[CIDR]" in body or "[IPV6 INFO]" in body:
            start = body.index("[CIDR]" if "[CIDR]" in body else "[IPV6 INFO]") + 1
            stop = body.index("", start) if "" in body[start:] else len(body)
            block.rows = _section_rows(body[start:stop])
        blocks.append(block)
        i = end + 1
    return blocks


def _chunks(args: list[str]) -> list[list[str]]:
    """Group arguments so no plain IPv4 address swallows the next one as its netmask."""
    chunks: list[list[str]] = [[]]
    for i, arg in enumerate(args):
        chunks[-1].append(arg)
        nxt = args[i + 1] if i + 1 < len(args) else None
        if nxt is not None and "/" not in arg and "/" not in nxt:
            chunks.append([])
    return chunks


def run_sipcalc(args: list[str]) -> list[Block]:
    """One block per argument, in order; an argument may be "ADDR NETMASK"."""
    binary = require_sipcalc()
    blocks: list[Block] = []
    for chunk in _chunks(args):
        argv = [word for arg in chunk for word in arg.split()]
        out = subprocess.run([binary, *argv], capture_output=True, text=True, check=True)
        got = parse_output(out.stdout)
        assert [b.arg for b in got] == chunk, "sipcalc grouped its arguments differently"
        blocks += got
    return blocks
