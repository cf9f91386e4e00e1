#!/usr/bin/env bash
# Install what kindlb needs on a Debian/Ubuntu machine, idempotently: Debian packages (Docker engine,
# sipcalc for the parity tests, busybox-static for the Docker tests, debootstrap for the offline lab,
# chromium for the browser tier),
# the Python package with its test extras, the offline lab (lab/, a distribution of its own), and a
# running Docker engine.
# Elsewhere (macOS, Windows, other distributions) install Docker, kind and kubectl yourself and run
# `pip install -e '.[test]'`.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
. kindlb_helpers/_core/versions.env   # the pins (ACTIONLINT_VERSION, ...)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if command -v apt-get >/dev/null 2>&1; then
  missing=()
  command -v sipcalc >/dev/null 2>&1 || missing+=(sipcalc)
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  [ -x /bin/busybox ] || missing+=(busybox-static)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v make >/dev/null 2>&1 || missing+=(make)
  [ -x /usr/bin/chromium ] || missing+=(chromium)   # the browser tier (tests/browser): JupyterLab in Playwright
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

PY=${PYTHON:-python3}
# installed_from MODULE: the folder above the package MODULE as Python imports it (empty if absent)
installed_from() { "$PY" -c "import $1, os; print(os.path.dirname(os.path.dirname($1.__file__)))" 2>/dev/null || true; }
# (the console script is checked too: it names a module path, which moves when the package is reorganised)
kindlb_script_loads() { "$PY" -c 'import importlib.metadata as m; [e.load() for e in m.entry_points(group="console_scripts", name="kindlb")] or exit(1)' >/dev/null 2>&1; }
if ! "$PY" -c 'import kindlb_helpers, pytest, hypothesis, playwright' >/dev/null 2>&1 || [ "$(installed_from kindlb_helpers)" != "$PWD" ] \
    || ! kindlb_script_loads; then
  echo "setup: pip install -e '.[test]'" >&2
  "$PY" -m pip install -q --disable-pip-version-check -e '.[test]'
fi
# The offline lab is not part of the kindlb package: it is installed from this clone, beside it.
# (and registered as kindlb's offline source: the entry point, which an older install of lab/ lacks)
lab_registered() { "$PY" -c 'import importlib.metadata as m; exit(not m.entry_points(group="kindlb.offline_sources", name="lab"))' >/dev/null 2>&1; }
if [ "$(installed_from kindlb_lab)" != "$PWD/lab" ] || ! lab_registered; then
  echo "setup: pip install -e lab/" >&2
  "$PY" -m pip install -q --disable-pip-version-check -e lab/
fi

# actionlint checks the GitHub workflow; built from its Go module (cached by Go)
if ! command -v actionlint >/dev/null 2>&1 && command -v go >/dev/null 2>&1; then
  echo "setup: go install actionlint" >&2
  GOFLAGS=-mod=mod GOBIN=/usr/local/bin $SUDO env "PATH=$PATH" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
fi

$SUDO bash lab/kindlb_lab/ensure-docker.sh
echo "setup: ready (python: $("$PY" --version), docker: $(docker version --format '{{.Server.Version}}' 2>/dev/null))" >&2
