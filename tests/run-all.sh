#!/bin/bash
# Runs every test tier and prints one summary line "N passed, N failed":
#   unit (no KVM), cli (bad user input), direct (our guests on this host's /dev/kvm),
#   nested (Debian's kernel inside the nested test host).
# Each tier prints PASS/FAIL lines; a tier that cannot run at all counts as a failure.
set -u
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
log=$build/test-logs
mkdir -p "$log"
results=$log/results.txt
: >"$results"

run_tier() {
	local tier=$1
	shift
	echo "== $tier: $*"
	"$@" 2>&1 | tee "$log/$tier.log" | grep -E '^(PASS|FAIL) ' | tee -a "$results" >/dev/null
	local status=${PIPESTATUS[0]}
	grep -E '^(PASS|FAIL) ' "$log/$tier.log" || true
	if [ "$status" -ne 0 ] && ! grep -q "^FAIL " "$log/$tier.log"; then
		echo "FAIL $tier/runner: exited $status without naming a failed test" | tee -a "$results"
	fi
}

unit_tests() {
	meson test -C "$build" --suite unit --suite fuzz --no-rebuild --print-errorlogs >/dev/null 2>&1
	local status=$?
	python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    ok = t["result"] in ("OK", "EXPECTEDFAIL")
    if t["result"] == "SKIP":
        print(f"FAIL unit/{t['name']}: skipped (placeholder or missing feature)")
    else:
        print(f"{'PASS' if ok else 'FAIL'} unit/{t['name']}" + ("" if ok else f": {t['result']}"))
PY
	return $status
}

run_tier unit unit_tests
run_tier cli tests/cli/run.sh "$build"
run_tier direct tests/direct/run.sh "$build"
run_tier direct-process tests/direct/process.sh "$build"
if [ "${SKIP_NESTED:-0}" = 1 ]; then
	echo "FAIL nested/skipped: SKIP_NESTED=1 was set" | tee -a "$results"
else
	HVKVM_BUILD=$build run_tier nested tests/nested/run.sh
fi

passed=$(grep -c '^PASS ' "$results")
failed=$(grep -c '^FAIL ' "$results")
echo
grep '^FAIL ' "$results" || true
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
