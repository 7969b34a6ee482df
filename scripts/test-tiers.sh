#!/usr/bin/env bash
# Runs the test tiers in order, fastest first, and stops at the first failing one.
# Usage: scripts/test-tiers.sh [TIER...]   (default: every tier)
# Tiers: lint, pure (no broker), kafka (a real broker), servers, browser, faults, cluster.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
BIN="$VENV/bin"
ALL=(lint pure kafka servers browser faults cluster)
TIERS=("$@")
[ ${#TIERS[@]} -eq 0 ] && TIERS=("${ALL[@]}")
MARKED="kafka or servers or browser or faults or cluster"
ARTIFACTS=${ALERTCAST_ARTIFACTS:-artifacts}
mkdir -p "$ARTIFACTS"
rm -f "$ARTIFACTS"/junit-*.xml

run_pytest() {  # tier, marker expression
    "$BIN/pytest" -m "$2" --junitxml="$ARTIFACTS/junit-$1.xml"
    local status=$?
    if [ $status -eq 5 ]; then
        echo "tier $1: no tests yet"
        return 0
    fi
    return $status
}

for tier in "${TIERS[@]}"; do
    echo "=== tier: $tier ($(date +%H:%M:%S))"
    case "$tier" in
        lint)
            "$BIN/ruff" check . && "$BIN/ruff" format --check . && "$BIN/mypy" \
                && "$BIN/alertcast" topics schemas --check && "$BIN/alertcast" web openapi --check ;;
        pure) run_pytest pure "not ($MARKED)" ;;
        kafka|faults|cluster) run_pytest "$tier" "$tier" ;;
        servers) scripts/install-servers.sh && run_pytest servers servers ;;
        browser) scripts/install-browser.sh && run_pytest browser browser ;;
        *) echo "unknown tier: $tier (known: ${ALL[*]})"; exit 64 ;;
    esac
    status=$?
    if [ $status -ne 0 ]; then
        echo "=== tier $tier FAILED (status $status); later tiers not run"
        exit $status
    fi
done
echo "=== all requested tiers passed: ${TIERS[*]}"
# One closing line over every tier's JUnit report (CI reads it).
"$BIN/python" - "$ARTIFACTS" <<'PY'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

passed = failed = skipped = 0
for report in Path(sys.argv[1]).glob("junit-*.xml"):
    for suite in ET.parse(report).getroot().iter("testsuite"):
        total, bad = int(suite.get("tests", 0)), int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skip = int(suite.get("skipped", 0))
        passed, failed, skipped = passed + total - bad - skip, failed + bad, skipped + skip
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
