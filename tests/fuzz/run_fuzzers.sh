#!/usr/bin/env bash
# Run libmudsc's libFuzzer binaries for a bounded time each and report.
#
# Usage: tests/fuzz/run_fuzzers.sh [-a ARTIFACT_DIR] [-o CORPUS_OUT] [-m RSS_MB]
#            [-t TIMEOUT_S] BUILD_DIR SECONDS [TARGET...]
#
# BUILD_DIR was configured with -Dfuzzing=true (clang; ASan+UBSan advised:
# CC=clang-14 meson setup build-fuzz -Dfuzzing=true
# -Db_sanitize=address,undefined -Db_lundef=false).  Each TARGET (default:
# every BUILD_DIR/tests/fuzz/fuzz-<name> built) runs for SECONDS seconds
# (-max_total_time) over a temporary copy of its checked-in corpus
# tests/fuzz/corpus/<name>/ (a missing folder: an empty corpus); the
# checked-in corpus is never written.  Per target it prints the executions,
# exec/s, coverage (cov: edges), features (ft), the corpus at the end
# (libFuzzer's units/bytes, and the folder's files with how many the run
# added; seeds that add no feature are not units) and the findings: the crash, leak,
# timeout and out-of-memory inputs, kept as ARTIFACT_DIR/<name>-crash-<sha1>
# etc., beside the run's log ARTIFACT_DIR/<name>.log.  A target that finds
# something, or does not run, counts as failed; the last line is
# "fuzzers: P passed, F failed" and the exit status is 1 when F > 0.
#
#   -a ARTIFACT_DIR  findings and logs (default BUILD_DIR/fuzz-artifacts)
#   -o CORPUS_OUT    keep each target's grown corpus in CORPUS_OUT/<name>/
#                    (to merge back minimised: fuzz-<name> -merge=1 ...)
#   -m RSS_MB        -rss_limit_mb (default 2048)
#   -t TIMEOUT_S     -timeout, seconds one input may take (default 25)
set -uo pipefail
export LC_ALL=C

usage() {
	sed -n '4,5p' "$0" | sed 's/^# //' >&2
	exit 2
}
artifacts=
corpus_out=
rss_mb=2048
timeout_s=25
while getopts 'a:o:m:t:h' opt; do
	case $opt in
	a) artifacts=$OPTARG ;;
	o) corpus_out=$OPTARG ;;
	m) rss_mb=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
build=$1
seconds=$2
shift 2
case $seconds in '' | *[!0-9]*) echo "run_fuzzers: SECONDS must be a whole number" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
bindir=$build/tests/fuzz
[ -d "$bindir" ] || { echo "run_fuzzers: no $bindir (configure BUILD_DIR with -Dfuzzing=true)" >&2; exit 2; }
artifacts=${artifacts:-$build/fuzz-artifacts}
mkdir -p "$artifacts" || exit 2
artifacts=$(cd "$artifacts" && pwd)

if [ $# -eq 0 ]; then
	for f in "$bindir"/fuzz-*; do
		case $f in *-regress) continue ;; esac
		[ -f "$f" ] && [ -x "$f" ] && set -- "$@" "${f##*/fuzz-}"
	done
	[ $# -gt 0 ] || { echo "run_fuzzers: no libFuzzer binary in $bindir (-Dfuzzing=true?)" >&2; exit 2; }
fi

# Sanitizer reports must stop the run (UBSan only prints by default), so
# that libFuzzer keeps the input.  A caller's own settings win.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
row='%-14s %11s %8s %6s %7s %15s %11s %9s\n'
# shellcheck disable=SC2059
printf "$row" target executions exec/s cov ft corpus files findings
for t in "$@"; do
	bin=$bindir/fuzz-$t
	log=$artifacts/$t.log
	if [ ! -x "$bin" ]; then
		printf '%-14s not built (%s)\n' "$t" "$bin"
		failed=$((failed + 1))
		continue
	fi
	corpus=$work/$t
	mkdir -p "$corpus"
	seeds=0
	if [ -d "$here/corpus/$t" ]; then
		cp -p "$here/corpus/$t"/. "$corpus"/ -R
		seeds=$(find "$corpus" -type f | wc -l)
	fi
	# Only this run's findings are counted: older ones stay but are not new.
	before=$(find "$artifacts" -maxdepth 1 -type f -name "$t-*" | sort)
	"$bin" -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout="$timeout_s" \
		-print_final_stats=1 -artifact_prefix="$artifacts/$t-" "$corpus" >"$log" 2>&1
	rc=$?
	after=$(find "$artifacts" -maxdepth 1 -type f -name "$t-*" | sort)
	findings=$(comm -13 <(echo "$before") <(echo "$after") |
		grep -cE "/$t-(crash|leak|timeout|oom)-" || true)
	runs=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$log" | tail -n 1)
	speed=$(awk '/^stat::average_exec_per_sec:/ {print $2}' "$log" | tail -n 1)
	status=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
	units=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$status")
	size=$(find "$corpus" -type f | wc -l)
	# shellcheck disable=SC2059
	printf "$row" "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${units:-?}" \
		"$size (+$((size - seeds)))" "$findings"
	if [ -n "$corpus_out" ]; then
		mkdir -p "$corpus_out/$t" && cp -p "$corpus"/. "$corpus_out/$t"/ -R
	fi
	if [ "$rc" -ne 0 ] || [ "$findings" -gt 0 ]; then
		failed=$((failed + 1))
		echo "  $t: exit status $rc; log $log"
		comm -13 <(echo "$before") <(echo "$after") | sed 's/^/  finding: /'
		grep -m 3 -E 'ERROR: |runtime error:|==[0-9]+==' "$log" | sed 's/^/  /'
	else
		passed=$((passed + 1))
	fi
	rm -rf "$corpus"
done
echo "fuzzers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
