# mk/services.mk -- bring up/down the real services the test suite runs against.
# Included from the top Makefile (`include mk/services.mk`); every target is PHONY.
#
#   make services-up         ci-deps, then $(SERVICES) up in that order
#   make services-down       $(SERVICES) down in reverse order (carries on past failures)
#   make slurm-up SLURM_ACCOUNTING=slurmdbd SLURM_CPUS=8 SLURM_MIN_JOB_AGE=30
#   make services-up SERVICES="sshd netns"      # skip the schedulers
#
# The scripts in infra/ are the source of truth; these targets only pass knobs. Service
# targets need root: otherwise they print one line saying so and succeed (the tests
# then skip, or fail under CI=true). ci-deps decides that for itself.

# the repo root, from this file's own path (must be read before any other include)
JL_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
# sub-makes re-read the makefile make was started with (also under make -f X)
JL_TOP_MAKEFILE := $(firstword $(MAKEFILE_LIST))
JL_SUBMAKE = $(MAKE) --no-print-directory -f $(JL_TOP_MAKEFILE)
INFRA ?= $(JL_ROOT)/infra

# which services services-up/-down handle, in bring-up order
SERVICES ?= slurm sge sshd netns

# SLURM (infra/slurm-up.sh): empty = the script's default
SLURM_ACCOUNTING ?=
SLURM_MIN_JOB_AGE ?=
SLURM_CPUS ?=

# the test sshd (infra/sshd-up.sh)
SSHD_DIR ?= /var/tmp/jobledger-sshd
SSHD_ADDR ?= 127.0.0.1
SSHD_PORT ?= 2222
SSHD_USER ?= hpcuser
SSHD_ALIAS ?= hpc-test
# 1 = a venv with cloudpickle/msgpack/attrs for remote jobs, at $(SSHD_DIR)/python
SSHD_PYENV ?= 1

# the second host (infra/netns-up.sh): namespace + veth + its own sshd on port 22
NETNS_NAME ?= hpc2
NETNS_IP ?= 10.200.0.2
NETNS_HOST_IP ?= 10.200.0.1
NETNS_SSHD_DIR ?= /var/tmp/jobledger-sshd-$(NETNS_NAME)

# $(call jl_root_only,what): first words of a recipe line; ends that line with status 0
# and one message when not root
jl_root_only = if [ "$$(id -u)" != 0 ]; then echo "$@: skipped, $(1) needs root"; exit 0; fi
# pass VAR=value to a script only when set, so the script's own default applies otherwise
jl_pass = $(foreach v,$(1),$(if $($(v)),$(v)=$($(v))))
jl_reverse = $(if $(1),$(call jl_reverse,$(wordlist 2,$(words $(1)),$(1))) $(firstword $(1)))

JL_SSHD_ENV = SSHD_TEST_DIR=$(SSHD_DIR) SSHD_TEST_ADDR=$(SSHD_ADDR) SSHD_TEST_PORT=$(SSHD_PORT) \
	SSHD_TEST_USER=$(SSHD_USER) SSHD_TEST_ALIAS=$(SSHD_ALIAS) SSHD_TEST_PYENV=$(SSHD_PYENV)
JL_NETNS_ENV = NETNS_NAME=$(NETNS_NAME) NETNS_IP=$(NETNS_IP) NETNS_HOST_IP=$(NETNS_HOST_IP) \
	NETNS_SSHD_DIR=$(NETNS_SSHD_DIR) SSHD_TEST_USER=$(SSHD_USER) \
	SSHD_TEST_PYENV=$(SSHD_PYENV) SSHD_TEST_PYENV_DIR=$(SSHD_DIR)/python

.PHONY: ci-deps services-up services-down slurm-up slurm-down sge-up sge-down \
	sshd-up sshd-down netns-up netns-down

ci-deps:
	@bash $(INFRA)/ci-deps.sh

# sub-makes, not prerequisites: the order must hold under make -j too
services-up:
	+@$(JL_SUBMAKE) ci-deps
	+@set -e; for s in $(SERVICES); do $(JL_SUBMAKE) $$s-up; done

services-down:
	+@rc=0; for s in $(call jl_reverse,$(SERVICES)); do \
		$(JL_SUBMAKE) $$s-down || rc=1; done; exit $$rc

slurm-up:
	@$(call jl_root_only,SLURM); \
	env $(call jl_pass,SLURM_ACCOUNTING SLURM_MIN_JOB_AGE SLURM_CPUS) bash $(INFRA)/slurm-up.sh

slurm-down:
	@$(call jl_root_only,SLURM); bash $(INFRA)/slurm-down.sh

sge-up:
	@$(call jl_root_only,Grid Engine); bash $(INFRA)/sge-up.sh

sge-down:
	@$(call jl_root_only,Grid Engine); bash $(INFRA)/sge-down.sh

sshd-up:
	@$(call jl_root_only,the test sshd); env $(JL_SSHD_ENV) bash $(INFRA)/sshd-up.sh

sshd-down:
	@$(call jl_root_only,the test sshd); \
	env SSHD_TEST_DIR=$(SSHD_DIR) SSHD_TEST_USER=$(SSHD_USER) bash $(INFRA)/sshd-down.sh

netns-up:
	@$(call jl_root_only,the second host (netns)); env $(JL_NETNS_ENV) bash $(INFRA)/netns-up.sh

netns-down:
	@$(call jl_root_only,the second host (netns)); env $(JL_NETNS_ENV) bash $(INFRA)/netns-down.sh
