# jobledger -- two commands do all the set-up on a fresh machine:
#   make demo   venv + install + an example workflow on the local backend + its status
#   make test   venv + install (+ Debian packages and real SLURM/SGE/sshd when root)
#               + ruff + mypy + the whole test suite, services torn down afterwards
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
JOBLEDGER := $(VENV)/bin/jobledger
PYTEST_ARGS ?= -n 2 --durations=20
# seconds after which a finished SLURM job leaves squeue/scontrol in the test cluster
TEST_SLURM_MIN_JOB_AGE ?= 10
TEST_SLURM_CPUS ?= 16

include mk/services.mk

.PHONY: all venv install demo test test-only test-oldest lint typecheck docs bench clean

all: test

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# --upgrade-strategy eager: every dependency at the newest release its range in
# pyproject.toml allows, also in a venv made earlier (a fresh one gets that anyway)
$(VENV)/.installed: $(PY) pyproject.toml
	$(PIP) install -q --upgrade --upgrade-strategy eager -e '.[dev,hamilton]'
	touch $@

venv: $(PY)
install: $(VENV)/.installed

demo: install
	@rm -rf examples/.demo && mkdir -p examples/.demo
	cd examples/.demo && ../../$(PY) ../pi_local.py
	cd examples/.demo && ../../$(JOBLEDGER) status

lint: install
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src
	$(VENV)/bin/lint-imports --no-cache

typecheck: install
	$(VENV)/bin/mypy

# The whole suite against real services. Phase 1: SLURM without accounting (finished jobs
# vanish after MinJobAge), SGE, sshd, a second host in a netns. Phase 2: SLURM with
# slurmdbd + MariaDB (sacct answers), for the tests marked `slurmdbd`. Services are
# always torn down, also when a phase fails.
test: install
	@rc=0; \
	$(MAKE) --no-print-directory lint typecheck || rc=1; \
	if [ $$rc = 0 ]; then \
	  $(MAKE) --no-print-directory services-up SLURM_ACCOUNTING=none SLURM_MIN_JOB_AGE=$(TEST_SLURM_MIN_JOB_AGE) SLURM_CPUS=$(TEST_SLURM_CPUS) || rc=1; \
	fi; \
	if [ $$rc = 0 ]; then \
	  $(VENV)/bin/pytest -m "not slurmdbd" $(PYTEST_ARGS) || rc=1; \
	fi; \
	if [ $$rc = 0 ] && [ "$$(id -u)" = 0 ]; then \
	  $(MAKE) --no-print-directory slurm-up SLURM_ACCOUNTING=slurmdbd SLURM_MIN_JOB_AGE=$(TEST_SLURM_MIN_JOB_AGE) SLURM_CPUS=$(TEST_SLURM_CPUS) || rc=1; \
	  if [ $$rc = 0 ]; then $(VENV)/bin/pytest -m slurmdbd $(PYTEST_ARGS) || rc=1; fi; \
	fi; \
	$(MAKE) --no-print-directory services-down || true; \
	exit $$rc

# the suite alone, against whatever services are up now
test-only: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The lower end of every dependency range in pyproject.toml, in its own venv: the suite's
# tests that need no cluster, no sshd and no browser (the linters' own tests need the linters,
# whose newest releases want newer dependencies).
OLDEST_VENV ?= .venv-oldest
test-oldest:
	test -x $(OLDEST_VENV)/bin/python || $(PYTHON) -m venv $(OLDEST_VENV)
	$(PYTHON) mk/lower_bounds.py > $(OLDEST_VENV)/constraints.txt
	$(OLDEST_VENV)/bin/pip install -q --upgrade pip
	$(OLDEST_VENV)/bin/pip install -q -c $(OLDEST_VENV)/constraints.txt -e '.[test,hamilton]'
	$(OLDEST_VENV)/bin/pip list 2>/dev/null | grep -iE '^(attrs|msgpack|filelock|watchdog|plumbum|click|rich|cloudpickle) '
	env -u CI $(OLDEST_VENV)/bin/pytest -m "not slurm and not slurmdbd and not sge and not ssh and not browser" \
	  --ignore tests/test_architecture.py $(PYTEST_ARGS)

docs: install
	$(PY) -m jobledger.cli.docgen docs/cli.md
	@echo "docs/ is plain Markdown; docs/cli.md regenerated from the CLI"

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) $(OLDEST_VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache examples/.demo
