#!/usr/bin/env bash
# run_mpi.sh MPIRUN MPI_MERGE COMPARE_SETS P [--reduce ROOT | --mismatch]
# examples/mpi with P ranks against the single process (-n 1): the set
# equal to 1e-12 relative, the merged model byte-identical, every rank's
# set the same bytes.  --mismatch: every rank fails alike, nobody hangs.
set -euo pipefail
mpirun=$1 example=$2 compare=$3 P=$4
shift 4
run() { "$mpirun" --allow-run-as-root --oversubscribe -n "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1
if [ "${1:-}" = --mismatch ]; then
	out=$(run "$P" "$example" "$tmp" --mismatch)
	echo "$out"
	[ "$(grep -c 'MUDSC_E_MISMATCH' <<<"$out")" -eq "$P" ]
	exit 0
fi
mkdir "$tmp/one" "$tmp/many"
run 1 "$example" "$tmp/one"
run "$P" "$example" "$tmp/many" "$@"
"$compare" "$tmp/one/graph.json" "$tmp/one/stats.safetensors" "$tmp/many/stats.safetensors" 1e-12
cmp "$tmp/one/merged.safetensors" "$tmp/many/merged.safetensors"
echo "merged model: the same bytes as the single process"
if [ $# -eq 0 ]; then
	for f in "$tmp"/many/stats.rank*.safetensors; do
		cmp "$tmp/many/stats.safetensors" "$f"
	done
	echo "all $P ranks hold the same set bytes"
fi
