#!/usr/bin/env bash
# `make fuzz`: runs every Go fuzz target of the repository for FUZZTIME each (default 30s), one
# after the other; a failure leaves its input under the package's testdata/fuzz/ and stops.
# `make test` runs only their seed corpora (the f.Add inputs and any committed testdata/fuzz).
#   FUZZTIME (e.g. 2m), FUZZ (a regular expression: only the targets it matches).
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-30s}
FUZZ=${FUZZ:-.}
git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | sort | while read -r file; do
  pkg=./$(dirname "$file")
  for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2); do
    [[ $target =~ $FUZZ ]] || continue
    echo "== $pkg $target ($FUZZTIME)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
  done
done
