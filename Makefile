# aurora-secrets: the user's verbs. `make` alone lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: deps-docker help prod-local prod-local-clean prod-local-ha prod-local-ha-down prod-local-ha-clean down logs ps images-offline test test-fast test-faults test-e2e test-one \
        deps build figures lint lint-compose native native-down native-status native-clean bench doctor

# `docker compose` (v2) when present, else Debian's `docker-compose` (v1.29).
COMPOSE ?= $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; elif command -v docker-compose >/dev/null 2>&1; then echo docker-compose; fi)
export COMPOSE
# One id per make run: scripts/stop-docker.sh stops the engine only if this run's scripts/ensure-docker.sh
# started it (KEEP_DOCKER=1 keeps it running anyway).
ifndef AURORA_DOCKER_SESSION
AURORA_DOCKER_SESSION := make-$(shell date +%s%N)
endif
export AURORA_DOCKER_SESSION
# Scripts and tests run from TypeScript source: the `aurora-source` export condition makes the workspace
# packages (@aurora/common, @aurora/app/*, @aurora/vault-init/*) resolve to their src/ through tsx, no build needed.
TSX := node --conditions=aurora-source --import tsx
NODE_TEST := $(TSX) --test --test-reporter=spec
TEST_ROOT ?= $(or $(TMPDIR),/tmp)/aurora-test-run

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "; printf "aurora-secrets\n\n"} /^[a-zA-Z0-9_-]+:.*## / {printf "  make %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@printf "\nStart with: make prod-local (Docker) or make native (no Docker). Tests: make test.\n"

# ---- the stack, with Docker -------------------------------------------------------------------------
prod-local: ## build and start the stack, wait until healthy, print URLs and how to get the root token
	@scripts/prod-local.sh up

prod-local-clean: ## remove the stack's containers, network AND volumes (destroys every secret)
	@scripts/prod-local.sh clean

prod-local-ha: ## the HA profile: three Vault nodes on Raft storage (vault-1..3), compose project <name>-ha
	@HA=1 scripts/prod-local.sh up

prod-local-ha-down: ## stop and remove the HA stack's containers, keep its volumes
	@HA=1 scripts/prod-local.sh down

prod-local-ha-clean: ## remove the HA stack's containers, network AND volumes (destroys its secrets)
	@HA=1 scripts/prod-local.sh clean

down: ## stop and remove the containers, keep the volumes (secrets survive)
	@scripts/prod-local.sh down

logs: ## follow the stack's logs
	@scripts/prod-local.sh logs

ps: ## show the stack's containers and their health
	@scripts/prod-local.sh ps

images-offline: ## build local images (aurora-offline/*) without a registry: Debian base, Vault build, PostgreSQL, Node
	@scripts/images-offline.sh

doctor: ## list dangling references and orphans (REPAIR=1 fixes what holds nothing recoverable; DESTROY_RECOVERABLE=1 too)
	@scripts/doctor.sh $(if $(REPAIR),--repair) $(if $(DESTROY_RECOVERABLE),--destroy-recoverable)

# ---- operations (docs/operations.md) -------------------------------------------------------------
.PHONY: backup restore root-token status
# The scripts import the workspace packages (@aurora/common), which resolve to their compiled dist/.
backup restore root-token status: build
backup: ## one archive (0600) of Vault's data, the unseal keys and the database; BACKUP_DIR, BACKUP_PASSPHRASE(_FILE)
	@$(TSX) scripts/backup.ts

restore: ## restore an archive: make restore FILE=backups/aurora-backup-<ts>.tar.gz[.enc] CONFIRM=1
	@CONFIRM="$(CONFIRM)" $(TSX) scripts/restore.ts "$(FILE)"

status: ## one screen: services, Vault seal/HA, tokens, audit log, doctor, last backup (JSON=1)
	@$(TSX) scripts/status.ts $(if $(JSON),--json) $(ARGS)

root-token: ## a fresh root token from the unseal keys (generate-root), printed once: revoke it after use
	@$(TSX) scripts/root-token.ts

# ---- without Docker ---------------------------------------------------------------------------------
native: deps build ## run the stack as local processes (Vault, PostgreSQL, vault-init, agent, app); state in .native/
	@$(TSX) scripts/native.ts up

native-down: ## stop the native stack, keep its state
	@$(TSX) scripts/native.ts down

native-status: ## which native processes are running
	@$(TSX) scripts/native.ts status

native-clean: ## stop the native stack and delete its state (.native/)
	@$(TSX) scripts/native.ts clean

# ---- Kubernetes (docs/kubernetes.md) -----------------------------------------------------------------
.PHONY: k8s k8s-down k8s-clean test-k8s
k8s: build ## the chart on a local single-node Kubernetes (built once, cached outside the repo), in its own namespaces
	@scripts/k8s/stack.sh up

k8s-down: ## stop the local Kubernetes node, keep its state (Vault's data, the init-material Secret, PostgreSQL)
	@scripts/k8s/stack.sh down

k8s-clean: ## helm uninstall, then remove everything the node created (processes, namespaces, mounts, cgroups, state)
	@scripts/k8s/stack.sh clean

test-k8s: build ## the Kubernetes e2e (test/k8s): a fresh local node, the chart, the Aidbox and Aurora flows, faults
	@scripts/k8s/test.sh

# ---- development ------------------------------------------------------------------------------------
deps: ## install what the process tests and `make native` need (npm packages, PostgreSQL, the Vault build)
	@scripts/test-deps.sh

deps-docker: ## deps, plus a Docker engine for the compose e2e (installed and started if none answers)
	@scripts/test-deps.sh --docker

deps-k8s: ## deps, plus what the Kubernetes e2e needs: Debian's containerd, etcd, CNI; Kubernetes built once, cached
	@scripts/test-deps.sh --k8s

build: ## compile TypeScript (tsc --build)
	@[ -d node_modules ] || npm ci --no-audit --no-fund
	@npx tsc --build

lint: build lint-compose ## prettier --check, eslint and the compose lint
	@npx prettier --check --log-level warn . || { echo "lint: run 'npx prettier --write .' to format" >&2; exit 1; }
	@npx eslint --max-warnings=0 .

lint-compose: ## check docker-compose.yml without an engine (docker-compose v1 `config -q`)
	@scripts/lint-compose.sh

test: deps-all ## everything: unit, integration (real Vault + PostgreSQL), fault matrix, compose e2e, k8s e2e
	@# Lint inside the recipe: a lint failure must still stop the Docker engine deps-all may have started.
	@$(MAKE) --no-print-directory lint || { scripts/stop-docker.sh; exit 1; }
	@scripts/run-tests.sh test/unit test/integration test/faults test/e2e test/ha-profile; rc=$$?; scripts/stop-docker.sh; \
	  scripts/k8s/test.sh || rc=1; exit $$rc

# The Kubernetes e2e runs after the compose e2e, not beside it: both load the same two cores.
.PHONY: deps-all deps-k8s
deps-all:
	@scripts/test-deps.sh --docker --k8s

test-fast: deps build ## unit + integration tests, without the slow fault matrix and the compose e2e
	@scripts/run-tests.sh test/unit test/integration

test-faults: deps build ## only the fault matrix (kill -9, proxies)
	@scripts/run-tests.sh test/faults

test-e2e: deps-docker build ## only the compose end-to-end tests, one node and HA (starts a Docker engine if it must)
	@scripts/run-tests.sh test/e2e test/ha-profile; rc=$$?; scripts/stop-docker.sh; exit $$rc

test-one: build ## one test file: make test-one FILE=test/integration/harness-real-servers.test.ts
	@scripts/run-tests.sh $(FILE)

bench: deps build ## benchmarks against raw Vault, written to bench/results/ and docs/performance.md
	@$(TSX) bench/run.ts

figures: ## rewrite the generated figures (README, docs/performance.md) from bench/results/
	@$(TSX) scripts/update-figures.ts
