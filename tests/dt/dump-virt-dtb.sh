#!/usr/bin/env bash
# Dumps QEMU's own device tree for the machine teemm's built-in platform models
# (-machine virt,secure=on), so that the tests read QEMU's tree and not one of ours.
#   tests/dt/dump-virt-dtb.sh OUT.dtb
# Exits 77 (CTest: skipped, loudly) when qemu-system-aarch64 is missing outside CI; with the
# environment variable CI set a missing QEMU is an error. QEMU_SYSTEM_AARCH64 overrides the binary.
set -euo pipefail
out=${1:?usage: dump-virt-dtb.sh OUT.dtb}
qemu=${QEMU_SYSTEM_AARCH64:-qemu-system-aarch64}
rm -f "$out"  # never a stale tree from an earlier run
if ! command -v "$qemu" >/dev/null 2>&1; then
  if [[ -n ${CI:-} ]]; then
    echo "ERROR: $qemu not found, and CI is set: install qemu-system-arm (scripts/setup.sh)" >&2
    exit 1
  fi
  echo "SKIPPED: $qemu not found (install qemu-system-arm); the tests on QEMU's device tree skip too" >&2
  exit 77
fi
timeout 30 "$qemu" -machine "virt,secure=on,dumpdtb=$out" -cpu cortex-a57 -m 1024 -nographic -nic none \
  >/dev/null 2>&1
if [[ ! -s $out ]]; then
  echo "ERROR: $qemu wrote no device tree to $out" >&2
  exit 1
fi
echo "dumped $("$qemu" --version | head -n 1)'s virt,secure=on device tree to $out ($(stat -c %s "$out") bytes)"
