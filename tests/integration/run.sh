#!/usr/bin/env bash
# Runs every t_*.sh (or those named) and appends one line per check to $RESULTS.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export RESULTS=${RESULTS:-$(mktemp)}
tests=("$@")
((${#tests[@]})) || tests=("$here"/t_*.sh)
for t in "${tests[@]}"; do
	echo "# $(basename "$t")"
	bash "$t" || echo "fail $(basename "$t") exited $?" >>"$RESULTS"
done
