# kindlb: the two commands the README opens with are `make tutorial` and `make test`.
PYTHON ?= python3
CLUSTER ?= kindlb
OUT ?= runs/latest
PYTEST ?= $(PYTHON) -m pytest
LAB_ENV = eval "$$($(PYTHON) -m kindlb_helpers.lab env)"

.PHONY: setup tutorial test test-fast test-cluster lab lab-down kind lint-workflow

setup:
	bash scripts/setup.sh

# The tutorial, the normal way (internet: kind's node image, MetalLB's manifest URL, Docker Hub nginx).
# With OFFLINE=1 it runs on the offline lab instead (everything built here from source).
tutorial: setup
ifeq ($(OFFLINE),1)
	$(PYTHON) -m kindlb_helpers.lab up --name $(CLUSTER)
	$(LAB_ENV); kindlb run --cluster $(CLUSTER) --offline --output $(OUT)
else
	$(MAKE) kind
	kindlb run --cluster $(CLUSTER) --output $(OUT)
endif

# kind itself, when it is not installed: built from its Go module (needs Go)
kind:
	@command -v kind >/dev/null || GOBIN=/usr/local/bin go install sigs.k8s.io/kind@v0.30.0

# Every test: the fast tier, then the cluster tier on the offline lab cluster.
test: setup test-fast test-cluster

test-fast:
	$(PYTEST) -q -m "not cluster" --ignore=tests/cluster tests

test-cluster:
	$(PYTHON) -m kindlb_helpers.lab build
	$(LAB_ENV); $(PYTEST) -q -m cluster tests/cluster

lab:
	$(PYTHON) -m kindlb_helpers.lab up --name $(CLUSTER)

lab-down:
	$(PYTHON) -m kindlb_helpers.lab down --name $(CLUSTER)

lint-workflow:
	@command -v actionlint >/dev/null || GOBIN=/usr/local/bin go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.7
	actionlint .github/workflows/*.yml
