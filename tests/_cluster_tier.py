"""The cluster tier's settings, for its conftest and its test modules: where artifacts go and which MetalLB
releases the era-parametrised tests run. Test modules import them from here, never from ``conftest``: when
the browser tier runs in the same pytest session (``make test``) there are two conftest modules."""
from __future__ import annotations

import os
from pathlib import Path

from kindlb_helpers._core.manifests import DEFAULT_VERSION
from kindlb_helpers._core.versions import METALLB_CONFIGMAP_VERSION

ARTIFACTS = Path(os.environ.get("KINDLB_ARTIFACTS", "runs/cluster-tier"))
#: the ConfigMap era's release, the one the series runs besides the current
CONFIGMAP_ERA = METALLB_CONFIGMAP_VERSION


def eras() -> list[str]:
    """The MetalLB releases the era-parametrised tests run: ``KINDLB_METALLB_VERSION`` alone, else the
    current release and the ConfigMap era."""
    wanted = os.environ.get("KINDLB_METALLB_VERSION")
    return [wanted] if wanted else [DEFAULT_VERSION, CONFIGMAP_ERA]
