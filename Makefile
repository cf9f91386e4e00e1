# kindlb: the two commands the README opens with are `make tutorial` and `make test`.
# Version pins (KIND_VERSION, ACTIONLINT_VERSION, ...) come from the one list of them:
include kindlb_helpers/_core/versions.env

PYTHON ?= python3
CLUSTER ?= kindlb
OUT ?= runs/latest
PYTEST ?= $(PYTHON) -m pytest
# the offline lab is its own distribution (lab/, installed by scripts/setup.sh)
LAB = $(PYTHON) -m kindlb_lab
LAB_ENV = eval "$$($(LAB) env)"

.PHONY: setup tutorial test test-unit test-docker test-fast test-lab-tiers test-cluster test-browser test-floors lab lab-down kind lint-workflow

setup:
	bash scripts/setup.sh

# The tutorial, the normal way (internet: kind's node image, MetalLB's manifest URL, Docker Hub nginx).
# With OFFLINE=1 it runs on the offline lab instead (everything built here from source).
tutorial: setup
ifeq ($(OFFLINE),1)
	$(LAB) up --name $(CLUSTER)
	$(LAB_ENV); kindlb run --cluster $(CLUSTER) --offline --output $(OUT)
else
	$(MAKE) kind
	kindlb run --cluster $(CLUSTER) --output $(OUT)
endif

# kind itself, when it is not installed: built from its Go module (needs Go)
kind:
	@command -v kind >/dev/null || GOBIN=/usr/local/bin go install sigs.k8s.io/kind@$(KIND_VERSION)

# Every test, tier by tier: unit (no Docker), docker, then the cluster and browser tiers on one offline lab cluster.
test: setup test-unit test-docker test-lab-tiers

# The core and everything that needs no Docker daemon, no kernel and no wheel, with the library's and the lab's
# doctests; DOCKER_HOST points nowhere to prove it (under 60 s here).
test-unit:
	DOCKER_HOST=unix:///nonexistent $(PYTEST) -q -p no:cacheprovider -m "not docker and not cluster" \
		--ignore=tests/cluster --ignore=tests/browser --doctest-modules kindlb_helpers lab/kindlb_lab tests

# A Docker engine, Jupyter kernels, the wheel (built once), the lab's scripts (tests/conftest.py lists the files).
test-docker:
	$(PYTEST) -q --durations=10 -m "docker and not cluster" --ignore=tests/cluster --ignore=tests/browser tests

# The two tiers without a cluster.
test-fast: test-unit test-docker

# The cluster tier, then the browser tier, in one pytest session: one lab cluster made for both (a separate
# browser run would make it again, about 2.5 min), and a failing cluster test does not keep the browser tier
# from running. The 20 slowest tests are listed at the end (where the tier's minutes go).
test-lab-tiers:
	$(LAB) build
	$(LAB_ENV); $(PYTEST) -q --durations=20 tests/cluster tests/browser

test-cluster:
	$(LAB) build
	$(LAB_ENV); $(PYTEST) -q -m cluster tests/cluster

# JupyterLab in headless Chromium (Debian's, via Playwright): 03, the hoods and diagrams with no cluster,
# then 07's answer cells on the offline lab cluster (tests/browser/conftest.py).
test-browser:
	$(LAB) build
	$(LAB_ENV); $(PYTEST) -q tests/browser

# The fast tier at the dependency floors (tests/floors.txt) in a fresh venv of its own, with its own
# python3 kernel for papermill. Not part of `make test`: the venv alone takes a few minutes.
FLOORS_VENV ?= /tmp/kindlb-floors

test-floors:
	rm -rf $(FLOORS_VENV)
	$(PYTHON) -m venv $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/pip install -q -r tests/floors.txt
	$(FLOORS_VENV)/bin/pip install -q --no-deps -e . -e lab
	$(FLOORS_VENV)/bin/python -m ipykernel install --prefix $(FLOORS_VENV) --name python3
	JUPYTER_PATH=$(FLOORS_VENV)/share/jupyter PATH=$(FLOORS_VENV)/bin:$$PATH \
		$(FLOORS_VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not cluster" --ignore=tests/cluster --ignore=tests/browser tests

lab:
	$(LAB) up --name $(CLUSTER)

lab-down:
	$(LAB) down --name $(CLUSTER)

lint-workflow:
	@command -v actionlint >/dev/null || GOBIN=/usr/local/bin go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	actionlint .github/workflows/*.yml
