# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
LAKE ?= lake
DEMO_VIDEOS ?= 192
DEMO_SEED ?= 7

# spark-submit's driver and local workers must run the venv's interpreter.
export PYSPARK_PYTHON := $(BIN)/python
export PYSPARK_DRIVER_PYTHON := $(BIN)/python
export PYTHONUNBUFFERED := 1

.PHONY: demo test bench bench-scale setup clean dist dist-env

setup: $(STAMP)

$(STAMP): requirements.txt requirements-detectors.txt requirements-tracking.txt requirements-torchcodec.txt \
		pyproject.toml
	@command -v java >/dev/null || { echo "Java 17+ is required for Spark (apt-get install openjdk-17-jre-headless)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt -r requirements-detectors.txt -r requirements-tracking.txt \
		-r requirements-torchcodec.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m jobs.spark_setup
	touch $@

demo: $(STAMP)
	$(BIN)/python -m jobs.synth --out $(LAKE)/raw/demo --videos $(DEMO_VIDEOS) --seed $(DEMO_SEED)
	@# One update cycle: curate, train a candidate, promote it (no model in use yet), compress, score, monitor.
	@# The report is written whatever the cycle's exit status (3: a monitoring alert), which make then returns.
	$(BIN)/spark-submit jobs/cycle.py --conf-file conf/cycle/local.yaml lake_uri=$(LAKE) \
		input_uri=$(LAKE)/raw/demo; status=$$?; \
		$(BIN)/python jobs/report.py lake_uri=$(LAKE) dataset=demo && exit $$status

# Two test processes: the suite waits on JVM and process start-ups about half of the time, so one process kept
# a single core busy on average. A test file stays in one process (its module fixtures and tool environments);
# files go out in collection order, the slow ones first (tests/conftest.py), not reordered by test count.
test: $(STAMP)
	$(BIN)/python -m pytest -q -ra -n 2 --dist loadfile --no-loadscope-reorder tests

# Every benchmark, then one table of their ratios (figure, baseline, ratio, goal), saved as bench/results/<time>.json.
bench: $(STAMP)
	$(BIN)/python bench/run.py

# The scale benchmarks: the same measures as corpora, lakes and listings grow (about an hour here).
bench-scale: $(STAMP)
	$(BIN)/python bench/run.py --scale

# A zip of the importable packages for clusters: spark-submit --py-files dist/sora_model.zip ...
DIST ?= dist
dist: $(STAMP)
	mkdir -p $(DIST) && rm -f $(DIST)/sora_model.zip
	$(BIN)/python -m jobs.dist --out $(DIST)/sora_model.zip

# The executors' Python for clusters without an image of their own (decord, PyAV, torch and the rest of
# requirements.txt in a relocatable venv): spark-submit --archives dist/env.tar.gz#env
#   --conf spark.pyspark.python=./env/bin/python --py-files dist/sora_model.zip ...
# EXTRA_REQUIREMENTS=requirements-detectors.txt adds the optional shot detectors (clip.cut_detector).
EXTRA_REQUIREMENTS ?=
dist-env:
	rm -rf $(DIST)/env-venv $(DIST)/env.tar.gz && mkdir -p $(DIST)
	$(PYTHON) -m venv --copies $(DIST)/env-venv
	$(DIST)/env-venv/bin/python -m pip install -q --upgrade pip
	$(DIST)/env-venv/bin/python -m pip install -q -r requirements.txt $(addprefix -r ,$(EXTRA_REQUIREMENTS)) \
		venv-pack==0.2.0
	$(DIST)/env-venv/bin/venv-pack -q -p $(DIST)/env-venv -o $(DIST)/env.tar.gz
	rm -rf $(DIST)/env-venv

clean:
	rm -rf $(LAKE) dist build *.egg-info .pytest_cache
