# Two commands do everything: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.srbench-installed

.PHONY: venv demo test test-all clean

venv: $(STAMP)

# torch first (from local disk on the dev machines), then basicsr, which needs
# torch at build time, then the project itself.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q setuptools wheel
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q --no-build-isolation basicsr==1.4.2
	$(PY) -m pip install -q -e '.[test,ray,diffusion]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/srbench run
	$(VENV)/bin/srbench leaderboard results/runs/quickstart
	$(VENV)/bin/srbench plot fig7 results/runs/quickstart --output results/runs/quickstart/fig7.png
	@echo "figure: results/runs/quickstart/fig7.png"

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

test-all: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info
