#!/usr/bin/env bash
# Runs `teemm lint` over every .dtb below a directory — e.g. the ~1000 arm64 trees of Debian's
# kernel package — and reports what it found: how many trees were read, refused (a clear error),
# or crashed or hung (neither may happen), the slowest, and the findings by severity and check.
# Not part of CTest (it needs the trees, which are not committed); by hand:
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get download linux-image-6.12.*-arm64:arm64 && dpkg-deb -x linux-image-*.deb trees
#   tests/dt/survey-dtbs.sh build/release/teemm trees/usr/lib/linux-image-*
set -euo pipefail
teemm=${1:?usage: survey-dtbs.sh TEEMM DIR [lint options...]}
dir=${2:?usage: survey-dtbs.sh TEEMM DIR [lint options...]}
shift 2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
total=0 clean=0 findings=0 refused=0 broken=0 slowest_ms=0 slowest=""
while IFS= read -r -d '' dtb; do
  total=$((total + 1))
  start=$(date +%s%N)
  status=0
  timeout 10 "$teemm" lint --dtb "$dtb" "$@" >"$out/lint.txt" 2>"$out/err.txt" || status=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  if [ "$ms" -gt "$slowest_ms" ]; then slowest_ms=$ms slowest=$dtb; fi
  case $status in
    0) clean=$((clean + 1)) ;;
    1) if grep -q '^teemm lint: ' "$out/lint.txt"; then findings=$((findings + 1)); else
         refused=$((refused + 1)); echo "refused: $(cat "$out/err.txt")"; fi ;;
    *) broken=$((broken + 1)); echo "CRASH OR HANG ($status): $dtb" ;;
  esac
  grep -oE '^(error|warning|info) +\[[a-z-]+\]' "$out/lint.txt" | tr -s ' ' >>"$out/all.txt" || true
done < <(find "$dir" -name '*.dtb' -print0 | sort -z)
echo "trees: $total; lint exit 0: $clean; exit 1 with errors found: $findings; refused: $refused; crashed or hung: $broken"
echo "slowest: ${slowest_ms} ms ($slowest)"
echo "findings (severity [check], count):"
sort "$out/all.txt" | uniq -c | sort -rn
[ "$broken" -eq 0 ]
