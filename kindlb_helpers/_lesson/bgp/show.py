"""How the BGP helpers show what they did: a table with its hood, and the ``docker exec`` / ``vtysh`` lines a
person would type.

>>> exec_line("kl-bgp-client", "wget -q -O /dev/null http://198.51.100.1/")
'docker exec kl-bgp-client wget -q -O /dev/null http://198.51.100.1/'
>>> vtysh_step("kl-bgp-router", "show bgp summary").command
"docker exec kl-bgp-router vtysh -c 'show bgp summary'"
"""
from __future__ import annotations

import shlex

import pandas as pd

from ..._core import hood as _hood


def frame(rows, columns, hood: _hood.Hood | None = None, **attrs) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    df.attrs.update(attrs)
    if hood is not None:
        df.attrs["hood"] = hood
    return df


def exec_line(name: str, command: str) -> str:
    return shlex.join(["docker", "exec", name, *shlex.split(command)])


def vtysh_step(router: str, command: str, why: str = "") -> _hood.Step:
    return _hood.Step(shlex.join(["docker", "exec", router, "vtysh", "-c", command]), why)
