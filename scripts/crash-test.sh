#!/usr/bin/env bash
# The crash test at full size: paywire serve on PostgreSQL takes payments
# while it is killed with SIGKILL at random moments and restarted; then
# nothing may be lost, doubled or left hanging (cmd/paywire/crash_test.go
# says what is checked). CI runs a short version as part of go test.
#
#   scripts/crash-test.sh [payments] [kills]     (default 300 and 10)
#
# PAYWIRE_TEST_POSTGRES names the database (a schema of its own is made and
# dropped); PAYWIRE_CRASH_SEED repeats a run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PAYWIRE_TEST_POSTGRES="${PAYWIRE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
export PAYWIRE_CRASH_PAYMENTS="${1:-300}" PAYWIRE_CRASH_KILLS="${2:-10}"
exec go test -count=1 -timeout 30m -run '^TestCrashRecovery$' -v ./cmd/paywire
