"""A tiny probe image for the offline lab: Debian's busybox-static with sh, wget and httpd.

Online, ``kindlb_helpers._cluster.containers.fetch_in_network`` uses ``busybox:1.36`` from Docker Hub; with no
registry this image stands in for it (built with ``docker import``, no pull).
"""
from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from kindlb_helpers._core.errors import LabError
from kindlb_helpers._core.versions import PROBE_IMAGE

APPLETS = ("sh", "sleep", "wget", "httpd", "cat", "mkdir")


def probe_image(ref: str = PROBE_IMAGE) -> str:
    """Build the probe image once, tagged REF (needs /bin/busybox from Debian's busybox-static); return its tag."""
    from kindlb_helpers._cluster.quick import image_present

    present = image_present(ref)  # over Docker's socket: the resolver asks this in notebooks' first cells
    if present is None:  # a DOCKER_HOST only the Docker SDK serves
        from kindlb_helpers._cluster.dockernet import image_id

        present = image_id(ref) is not None
    if present:
        return ref
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not Path(busybox).is_file():
        raise LabError("busybox is not installed: apt-get install busybox-static (scripts/setup.sh does it)")
    with tempfile.TemporaryDirectory() as d:
        root = Path(d, "rootfs")
        (root / "bin").mkdir(parents=True)
        (root / "tmp").mkdir()
        shutil.copy2(busybox, root / "bin" / "busybox")
        for applet in APPLETS:
            (root / "bin" / applet).symlink_to("busybox")
        tar = Path(d, "rootfs.tar")
        with tarfile.open(tar, "w") as t:
            t.add(root, arcname=".")
        out = subprocess.run(["docker", "import", "--change", "ENV PATH=/bin", str(tar), ref],
                             capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise LabError(f"docker import of {ref} failed: {out.stderr.strip()}")
    return ref
