# Careslot. `make run` starts everything; `make test` runs every test.
# Both install and start PostgreSQL and Redis when missing (Debian, as root).

GO       ?= go
PKGS     ?= ./...
TESTFLAGS ?= -count=1 -timeout 9m
# Modules of their own (tools kept out of the main module's build list), tested by `make test` too.
SUBMODULES := tools/image helm

# `make image`: the OCI image (tools/image); pushed when IMAGE_REPO is set (IMAGE_TAG: the tag).
IMAGE_OUT  ?= build/image
IMAGE_REPO ?=
IMAGE_TAG  ?=

.PHONY: run test fuzz generate check-generate build image image-check bench services ws-client vet fmt clean

run: services
	$(GO) run ./cmd/careslot dev

test: services ws-client
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	@for m in $(SUBMODULES); do (cd $$m && $(GO) vet ./... && $(GO) test $(TESTFLAGS) ./...) || exit 1; done
	$(GO) test $(TESTFLAGS) $(PKGS)

# The deployed shape as separate processes (3-node broker, Redis Cluster, two
# replicas of booking, availability and search, the router) under faults;
# part of `make test`, runnable alone (e2e/system).
test-system: services
	$(GO) test -count=1 -timeout 8m -v -run TestSystem ./e2e/system/

# Every Go fuzz target for FUZZTIME each (default 30s; `make test` runs their seed corpora only).
fuzz:
	./scripts/fuzz.sh

# Regenerates every subgraph from schema/*.graphqls and composes router-config/config.json.
generate:
	$(GO) run ./cmd/generate

build:
	$(GO) build -o bin/careslot ./cmd/careslot

# A static careslot on an empty base, user 1000, no shell; two builds of one tree give one digest.
# Writes $(IMAGE_OUT)/oci (OCI layout), $(IMAGE_OUT)/careslot.tar and $(IMAGE_OUT)/digest.
image:
	cd tools/image && $(GO) run . -src ../.. -out $(abspath $(IMAGE_OUT)) -repo "$(IMAGE_REPO)" -tag "$(IMAGE_TAG)"

# Builds careslot's image twice, the second time with an empty Go build cache (a real rebuild, not
# a cache hit), and fails unless both have one digest. Not part of `make test`: the cold rebuild
# takes minutes (docs/deploy.md). tools/image's tests check the same path on a small program.
image-check:
	rm -rf build/image-check
	cd tools/image && $(GO) run . -src ../.. -out $(abspath build/image-check/warm) -repo ""
	cd tools/image && GOCACHE=$(abspath build/image-check/gocache) $(GO) run . -src ../.. -out $(abspath build/image-check/cold) -repo ""
	cmp build/image-check/warm/digest build/image-check/cold/digest
	cmp build/image-check/warm/careslot.tar build/image-check/cold/careslot.tar
	rm -rf build/image-check/gocache
	@echo "two builds, one digest: $$(cat build/image-check/warm/digest)"

# Seeds 500,000 practitioners (BENCH_PRACTITIONERS) and measures search,
# booking, slot listing and the raw PostgreSQL bound side by side.
bench: services
	./bench/run.sh

services:
	@./scripts/ensure-services.sh

# The npm graphql-ws client of the end-to-end subscription test (e2e/ws, versions pinned by its
# package-lock.json); without npm that test is skipped.
ws-client:
	@if command -v npm >/dev/null 2>&1; then \
		test -d e2e/ws/node_modules || npm --prefix e2e/ws ci --no-audit --no-fund; \
	else echo "npm not found: the graphql-ws end-to-end test will be skipped"; fi

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin .data build
