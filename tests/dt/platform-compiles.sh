#!/usr/bin/env bash
# `teemm platform` must print C++ that a built-in platform can be made of: it compiles against the
# library's headers and its static_assert (validate_regions) holds.
#   tests/dt/platform-compiles.sh TEEMM CXX SRC_DIR WORK_DIR TEEMM_PLATFORM_ARGS...
# Exits 77 (skipped) when the tree it is given does not exist (QEMU's, without QEMU) outside CI.
set -euo pipefail
teemm=$1 cxx=$2 src=$3 work=$4
shift 4
for arg in "$@"; do
  case $arg in
    *.dtb | *.dts)
      if [[ ! -s $arg ]]; then
        [[ -n ${CI:-} ]] && { echo "ERROR: no device tree at $arg and CI is set" >&2; exit 1; }
        echo "SKIPPED: no device tree at $arg" >&2
        exit 77
      fi ;;
  esac
done
mkdir -p "$work"
"$teemm" platform "$@" >"$work/derived_platform.hpp"
printf '#include "derived_platform.hpp"\nint main() { return static_cast<int>(teemm::platform::%s::kRegionCount) == 0; }\n' \
  "$(sed -n 's/^namespace teemm::platform::\([A-Za-z0-9_]*\) {$/\1/p' "$work/derived_platform.hpp")" \
  >"$work/use_platform.cpp"
"$cxx" -std=c++20 -fsyntax-only -Wall -Wextra -Werror -I "$src" -I "$work" "$work/use_platform.cpp"
echo "the derived platform ($(grep -c 'mm::[a-z_]*region(\|mm::va_reservation(' "$work/derived_platform.hpp") regions) compiles"
