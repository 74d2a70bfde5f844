#!/usr/bin/env bash
# Runs libFuzzer targets: run-fuzz.sh BUILD_DIR SECONDS TARGET...
# Each target runs SECONDS seconds (and at most FUZZ_RUNS inputs when that
# is set) from its seeds in tests/fuzz/corpus/<target>/; the inputs it
# finds go to a scratch directory that is removed afterwards (the seeds in
# the repository never change), a crash's input to BUILD_DIR/artifacts/;
# tests/fuzz/*.dict give libFuzzer the formats' words.
# Prints one line per target with libFuzzer's final stats and closes with
# "fuzz: N passed, N failed"; exits non-zero when a target crashed, leaked,
# timed out or could not run. Run from anywhere.
set -u
cd "$(dirname "$0")/../.."
build=${1:?usage: run-fuzz.sh BUILD_DIR SECONDS TARGET...}
secs=${2:?usage: run-fuzz.sh BUILD_DIR SECONDS TARGET...}
shift 2
art="$build/artifacts"
mkdir -p "$art"
pass=0
fail=0
for t in "$@"; do
	bin="$build/fuzz_$t"
	seeds="tests/fuzz/corpus/$t"
	if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
		echo "fuzz: $t: missing $bin or $seeds"
		fail=$((fail + 1))
		continue
	fi
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/firegw-fuzz-$t.XXXXXX")
	log="$scratch.log"
	runs=()
	[ -n "${FUZZ_RUNS:-}" ] && runs=(-runs="$FUZZ_RUNS")
	# the format's words: tests/fuzz/<target>.dict, or json.dict for JSON inputs
	case $t in
	request | ack | control) dict=tests/fuzz/json.dict ;;
	*) dict=tests/fuzz/$t.dict ;;
	esac
	[ -f "$dict" ] && runs+=(-dict="$dict")
	# -timeout: one input taking 10 s is a hang; -rss_limit_mb bounds memory;
	# -max_len 64 KiB covers the control socket's line limit
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		timeout $((secs + 120)) "$bin" -max_total_time="$secs" "${runs[@]}" -timeout=10 \
		-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$art/$t-" "$scratch" "$seeds" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
	if [ "$rc" -eq 0 ]; then
		echo "fuzz: $t: ok, ${execs:-?} executions in ${secs} s (${rate:-?}/s), $cov, $(ls "$scratch" | wc -l) new inputs"
		pass=$((pass + 1))
	else
		echo "fuzz: $t: FAILED (exit $rc) after ${execs:-?} executions; input in $art/"
		grep -E 'ERROR:|runtime error|SUMMARY|Test unit written|deadly signal' "$log" | head -20
		tail -40 "$log"
		fail=$((fail + 1))
	fi
	rm -rf "$scratch" "$log"
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
