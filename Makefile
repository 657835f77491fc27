# Customer Care Registry — the one task runner. `make run` and `make test` are all a new
# user needs; every other target is a step they take, and each step is skipped when its
# inputs have not changed since it last ran.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
RASA_VENV := .venv-rasa
STAMPS := .stamps
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export RASA_TELEMETRY_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# FAISS and torch bring their own OpenMP runtimes; spinning waiters steal the other's CPU
export OMP_WAIT_POLICY := PASSIVE

# the custom NLU components decide the features and how the model is saved, so a change to
# them retrains too (the sentence featurizer runs kb_index/onnx_model.py)
CHATBOT_SRC := $(shell find chatbot/data chatbot/config.yml chatbot/domain.yml chatbot/domain chatbot/care_intent_classifier.py chatbot/care_sentence_featurizer.py kb_index/onnx_model.py -type f 2>/dev/null)
KB_SRC := $(shell find data/kb -type f -name '*.md' 2>/dev/null)
WIDGET_SRC := $(shell find widget/src -type f 2>/dev/null) widget/build.mjs widget/package-lock.json
MODEL := chatbot/models/care.tar.gz
# the KB's embedding model as ONNX, read by the Rasa model's sentence featurizer at run time
SENTENCE_MODEL := var/rasa_sentence_model/source.json
KB_INDEX := var/kb_index/manifest.json
WIDGET := widget/dist/carechat.js

.PHONY: help install run test test-fast status db model kb widget lock clean
help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(STAMPS)/system $(STAMPS)/venv $(STAMPS)/venv-rasa $(STAMPS)/npm  ## install what is missing (Debian packages, both venvs, npm packages)

$(STAMPS)/system:
	@mkdir -p $(STAMPS)
	@# Only what is missing: a machine may already have Node.js from another source (e.g.
	@# NodeSource's nodejs, which bundles npm and conflicts with Debian's npm package).
	@pkgs=""; \
	  command -v chromium >/dev/null || pkgs="$$pkgs chromium"; \
	  command -v node >/dev/null || pkgs="$$pkgs nodejs"; \
	  command -v npm >/dev/null || pkgs="$$pkgs npm"; \
	  test -x /usr/sbin/dovecot || pkgs="$$pkgs dovecot-imapd"; \
	  if [ -n "$$pkgs" ]; then \
	    echo "Installing Debian packages:$$pkgs"; \
	    $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$pkgs >/dev/null; \
	  fi
	@touch $@

$(STAMPS)/venv: requirements.lock
	@mkdir -p $(STAMPS)
	@echo "Installing the main environment ($(VENV)) from requirements.lock"
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -q --upgrade pip
	@# torch==2.13.0+cpu comes from the wheel on this machine kind's disk (/opt/wheels)
	@$(VENV)/bin/pip install -q --find-links /opt/wheels -r requirements.lock
	@touch $@

$(STAMPS)/venv-rasa: chatbot/requirements.lock
	@mkdir -p $(STAMPS)
	@echo "Installing the Rasa 3.6 environment ($(RASA_VENV)) from chatbot/requirements.lock"
	@test -x $(VENV)/bin/uv || $(VENV)/bin/pip install -q uv
	@test -x $(RASA_VENV)/bin/python || $(VENV)/bin/uv venv -q --python $(PYTHON) $(RASA_VENV)
	@VIRTUAL_ENV=$(RASA_VENV) $(VENV)/bin/uv pip sync -q chatbot/requirements.lock
	@touch $@

$(STAMPS)/npm: widget/package-lock.json $(STAMPS)/system
	@echo "Installing the widget's npm packages"
	@cd widget && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lock: ## re-resolve both lock files from requirements.in and chatbot/requirements.in
	$(VENV)/bin/uv pip compile -q --python-version 3.11 --override chatbot/overrides.txt chatbot/requirements.in -o chatbot/requirements.lock
	$(VENV)/bin/pip freeze --exclude-editable | grep -v '^uv==' > requirements.lock

model: $(MODEL)  ## train the Rasa model if chatbot/ sources changed
# The intent classifier's sentence feature (chatbot/care_sentence_featurizer.py) runs the KB's
# embedding model: converted to ONNX in the main environment (as `make kb` does, the same
# cached file) and staged where the Rasa environment reads it, before training.
$(SENTENCE_MODEL): chatbot/stage_sentence_model.py $(STAMPS)/venv
	@$(VENV)/bin/python chatbot/stage_sentence_model.py $(dir $@)
	@touch $@
$(MODEL): $(CHATBOT_SRC) $(STAMPS)/venv-rasa $(SENTENCE_MODEL)
	@echo "Training the Rasa model (chatbot/ changed) …"
	@cd chatbot && ../$(RASA_VENV)/bin/rasa train --fixed-model-name care --out models --quiet
	@touch $@

kb: $(KB_INDEX)  ## build the KB index if data/kb changed (only changed articles are re-embedded)
$(KB_INDEX): $(KB_SRC) $(STAMPS)/venv
	@$(VENV)/bin/python -m kb_index build --source data/kb --out var/kb_index
	@touch $@

widget: $(WIDGET)  ## build the embeddable widget script
$(WIDGET): $(WIDGET_SRC) $(STAMPS)/npm
	@cd widget && node build.mjs

db: $(STAMPS)/venv  ## create or migrate the database and add the demo users
	@$(VENV)/bin/flask --app escalation init-db
	@$(VENV)/bin/flask --app escalation demo-data --if-empty

run: install model kb widget db  ## install, train, index, then start every process (Ctrl-C stops them)
	@$(VENV)/bin/python -m careops run

status: ## show which processes are up
	@$(VENV)/bin/python -m careops status

test: install model kb widget  ## run every test (unit, Rasa, browser, end-to-end)
	@echo "== Rasa: data validation and test stories"
	@cd chatbot && ../$(RASA_VENV)/bin/rasa data validate --quiet
	@cd chatbot && ../$(RASA_VENV)/bin/rasa test core --stories tests --model models/care.tar.gz --fail-on-prediction-errors --out results --quiet
	@echo "== Rasa actions (tests/chatbot, in $(RASA_VENV))"
	@$(RASA_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/chatbot
	@echo "== Everything else (tests/, in $(VENV))"
	@$(VENV)/bin/python -m pytest -q

test-fast: $(STAMPS)/venv  ## unit tests only (no model, browser or processes)
	@$(VENV)/bin/python -m pytest -q -m "not e2e and not browser and not model"

clean:  ## remove build outputs (keeps the venvs and the database)
	rm -rf var/kb_index var/rasa_sentence_model widget/dist chatbot/models chatbot/results
