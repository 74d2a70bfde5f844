#!/usr/bin/env bash
# Runs every test of `make test`: the cmocka unit tests, then the
# integration and fault tests (python3 stdlib harness in tests/lib/) against
# the real binaries. Prints one closing line "N passed, N failed".
# FIREGW_BUILD selects the build directory (build, or build-san for ASan).
set -u
cd "$(dirname "$0")/.."
build=${FIREGW_BUILD:-build}
pass=0
fail=0
failed_names=()

for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	echo "== unit: $t"
	out=$(timeout 120 "$t" 2>&1)
	rc=$?
	echo "$out" | grep -E '^\[  (PASSED|FAILED|  OK  ) \]|^\[ +FAILED|^\[  ERROR' | grep -v '^\[       OK \]' | tail -5
	p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0}))
	if [ "$rc" -ne 0 ]; then
		[ -z "$f" ] && fail=$((fail + 1))
		failed_names+=("$t")
		echo "$out" | tail -30
	fi
done

# static analysis (cppcheck, clang-tidy with the Makefile's checks): one
# count; only files changed since the last clean run are analysed again
echo "== lint: make lint"
if out=$(timeout 900 make -s --no-print-directory -j2 B="$build" lint 2>&1); then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	failed_names+=("lint")
	echo "$out" | tail -60
fi

# integration and fault tests: one process per file, two files at a time
# (tests/lib/run_py.py says why)
dirs=()
for dir in tests/integration tests/fault; do
	ls "$dir"/test_*.py >/dev/null 2>&1 && dirs+=("$dir")
done
if [ ${#dirs[@]} -gt 0 ]; then
	echo "== ${dirs[*]}"
	out=$(FIREGW_BUILD=$build timeout 1200 python3 tests/lib/run_py.py "${dirs[@]}" 2>&1)
	rc=$?
	echo "$out" | grep -E '^====| \.\.\. |^FAIL|^ERROR|Traceback|Error|assert|^PY failing' | head -300
	p=$(echo "$out" | sed -n 's/^PY: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' | tail -1)
	f=$(echo "$out" | sed -n 's/^PY: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' | tail -1)
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0}))
	if [ "$rc" -ne 0 ]; then
		[ -z "$f" ] || [ "${f:-0}" = 0 ] && fail=$((fail + 1))
		failed_names+=("${dirs[*]}")
		echo "$out" | tail -80
	fi
fi

# libFuzzer targets (make fuzz-bins), each FIREGW_FUZZ_SECS (default 2) s
# from its seeds: each target is one test, a crash fails the run. Missing
# binaries fail too when FIREGW_FUZZ=1 (make test), else are skipped.
fuzz_build=${FIREGW_FUZZ_BUILD:-build-fuzz}
if [ -x "$fuzz_build/fuzz_config" ] || [ "${FIREGW_FUZZ:-}" = 1 ]; then
	echo "== fuzz"
	out=$(FUZZ_RUNS=${FUZZ_RUNS:-2000000} tests/fuzz/run-fuzz.sh "$fuzz_build" "${FIREGW_FUZZ_SECS:-2}" \
		config profile decode modbus request ack control 2>&1)
	rc=$?
	echo "$out" | grep -E '^fuzz: ' | grep -v 'passed, '
	p=$(echo "$out" | sed -n 's/^fuzz: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$out" | sed -n 's/^fuzz: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0}))
	if [ "$rc" -ne 0 ]; then
		[ "${f:-0}" = 0 ] && fail=$((fail + 1))
		failed_names+=("tests/fuzz")
		echo "$out" | tail -60
	fi
else
	echo "== fuzz: skipped ($fuzz_build/fuzz_* not built: make fuzz-bins)"
fi

echo
[ ${#failed_names[@]} -gt 0 ] && echo "failing: ${failed_names[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
