# Careslot. `make run` starts everything; `make test` runs every test.
# Both install and start PostgreSQL and Redis when missing (Debian, as root).

GO       ?= go
PKGS     ?= ./...
TESTFLAGS ?= -count=1 -timeout 9m

.PHONY: run test generate check-generate build bench services ws-client vet fmt clean

run: services
	$(GO) run ./cmd/careslot dev

test: services ws-client
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	$(GO) test $(TESTFLAGS) $(PKGS)

# Regenerates every subgraph from schema/*.graphqls and composes router-config/config.json.
generate:
	$(GO) run ./cmd/generate

build:
	$(GO) build -o bin/careslot ./cmd/careslot

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
	rm -rf bin .data
