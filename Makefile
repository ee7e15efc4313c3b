# `make demo` and `make test` set everything up in .venv on first use, then run.
# The functions run on FC's python3.10: use 3.10 when this machine has it, else any python3 >= 3.10.
PYTHON ?= $(shell for p in python3.10 $$(ls -d $$HOME/.pyenv/versions/3.10*/bin/python3.10 2>/dev/null) python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test setup package deploy clean mutation

demo: $(STAMP)
	$(VENV)/bin/kms-steward demo

test: $(STAMP)
	$(VENV)/bin/python -m pytest

setup: $(STAMP)

# Each function's deployable package in dist/ (s.yaml's pre-deploy actions run it for their function):
# make package FUNCTIONS=key-guard
FUNCTIONS ?=
package: $(STAMP)
	$(VENV)/bin/kms-steward package $(FUNCTIONS)

# Deploy to several regions (README "Deploy guide"): every function in the first region of REGIONS, key-guard and
# secret-guard with their failure destinations in each other (EventBridge delivers a region's events only there).
# Each region uses the SLS project and state bucket $(PREFIX)-<region>. Other settings come from the environment.
REGIONS ?=
PREFIX ?= kms-steward
GUARDS := key-guard key-guard-failures secret-guard secret-guard-failures
deploy: $(STAMP)
	@test -n "$(REGIONS)" || { echo 'name the regions: make deploy REGIONS="cn-hangzhou cn-shanghai" PREFIX=acme-kms-steward' >&2; exit 2; }
	REGION=$(firstword $(REGIONS)) SLS_PROJECT=$(PREFIX)-$(firstword $(REGIONS)) STATE_BUCKET=$(PREFIX)-$(firstword $(REGIONS)) s deploy -y
	@for region in $(wordlist 2,$(words $(REGIONS)),$(REGIONS)); do for guard in $(GUARDS); do \
		echo "$$region: $$guard"; \
		REGION=$$region SLS_PROJECT=$(PREFIX)-$$region STATE_BUCKET=$(PREFIX)-$$region s $$guard deploy -y || exit 1; \
	done; done

$(STAMP): pyproject.toml requirements.txt
	@test -n "$(PYTHON)" || { echo "no python3 >= 3.10 found" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]' -c requirements.txt
	touch $(STAMP)

# Mutation testing of the decision path ([tool.mutmut] in pyproject.toml, MUTATION.md): mutmut in .venv,
# then the kill rate per module and the survivors; it fails while a survivor is neither killed nor explained
# in MUTATION.md. CPU heavy: niced, MUTATION_JOBS workers (default 2).
# MUTANTS narrows the run to mutant names (globs), e.g. make mutation MUTANTS='shared.policy.*'.
MUTATION_STAMP := $(VENV)/.mutation-installed
MUTATION_JOBS ?= 2
MUTANTS ?=

# Verdicts are kept in mutation-results/ (committed): a run starts from them, re-tests only the functions that
# changed, and saves what it checked even when stopped part way; then the survivors listed in mutation-results/rerun.txt
# (killed by tests added since) are run again by name (mutation_results.py says why).
mutation: $(MUTATION_STAMP)
	$(VENV)/bin/python scripts/mutation_results.py restore
	nice -n 10 $(VENV)/bin/mutmut run --max-children $(MUTATION_JOBS) $(MUTANTS); status=$$?; \
		$(VENV)/bin/python scripts/mutation_results.py save; exit $$status
	names="$$($(VENV)/bin/python scripts/mutation_results.py survivors-to-rerun)"; test -z "$$names" || { \
		nice -n 10 $(VENV)/bin/mutmut run --max-children $(MUTATION_JOBS) $$names; status=$$?; \
		$(VENV)/bin/python scripts/mutation_results.py save; exit $$status; }
	$(VENV)/bin/python scripts/mutation_report.py

$(MUTATION_STAMP): $(STAMP) pyproject.toml
	$(VENV)/bin/python -m pip install --quiet -e '.[test,mutation]'
	touch $(MUTATION_STAMP)

clean:
	rm -rf $(VENV) .pytest_cache
