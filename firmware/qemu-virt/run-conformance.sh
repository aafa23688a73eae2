#!/usr/bin/env bash
# Builds the bare-metal conformance image and runs it on QEMU's virt machine; exits with QEMU's exit
# status, which is the image's (0 = pass; see firmware/qemu-virt/fw_abi.h for the others).
#
# usage: firmware/qemu-virt/run-conformance.sh BUILD_DIR [options]
#   --no-build           run the image already in BUILD_DIR
#   --image NAME         run BUILD_DIR/NAME.bin (default teemm_conformance; the test-only variant
#                        teemm_conformance_skip_tlbi is built alongside)
#   --cmake-arg ARG      extra argument for the firmware's cmake configure (repeatable), e.g.
#                        --cmake-arg -DTEEMM_FW_CORE_DEFINITIONS=TEEMM_TEST_BROKEN_DESCRIPTOR=1
#   --fw-arg WORD        word for the image's command line (semihosting arg=, repeatable)
#   --expect-status N    exit 0 when QEMU's status is N and 1 otherwise (negative tests)
#   --expect-line REGEX  also require a line of the output to match REGEX (grep -E; repeatable), e.g.
#                        to check that a negative test fails for the intended reason
#   --timeout SECONDS    limit for the QEMU run (default 60)
# Environment: QEMU_SYSTEM_AARCH64 overrides the QEMU binary; CI makes missing tools an error.
#
# When qemu-system-aarch64 or the aarch64-linux-gnu cross compiler is missing: with the environment
# variable CI set this is an error (exit 1); otherwise the run is SKIPPED with exit status 77.
set -u

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)

usage() { sed -n '5,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

if [[ $# -ge 1 && ( $1 == -h || $1 == --help ) ]]; then
  usage
  exit 0
fi
if [[ $# -lt 1 || $1 == -* ]]; then
  usage >&2
  exit 2
fi
build_dir=$1
shift

do_build=1
image_name=teemm_conformance
cmake_args=()
fw_args=()
expect_status=""
expect_lines=()
run_timeout=60
while [[ $# -gt 0 ]]; do
  case $1 in
    --no-build) do_build=0; shift ;;
    --image) image_name=$2; shift 2 ;;
    --cmake-arg) cmake_args+=("$2"); shift 2 ;;
    --fw-arg) fw_args+=("$2"); shift 2 ;;
    --expect-status) expect_status=$2; shift 2 ;;
    --expect-line) expect_lines+=("$2"); shift 2 ;;
    --timeout) run_timeout=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run-conformance.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

# ---- Tools ------------------------------------------------------------------------------------------
qemu=${QEMU_SYSTEM_AARCH64:-qemu-system-aarch64}
missing=()
command -v "$qemu" >/dev/null 2>&1 || missing+=("$qemu (Debian: qemu-system-arm)")
if [[ $do_build -eq 1 ]]; then
  command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || missing+=("aarch64-linux-gnu-g++ (Debian: g++-aarch64-linux-gnu)")
  command -v cmake >/dev/null 2>&1 || missing+=("cmake")
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ -n ${CI:-} ]]; then
    echo "################################################################################" >&2
    echo "ERROR: qemu conformance: not installed: ${missing[*]}" >&2
    echo "ERROR: CI is set, so a missing tool is a failure, not a skip." >&2
    echo "################################################################################" >&2
    exit 1
  fi
  echo "################################################################################"
  echo "SKIPPED: qemu conformance: not installed: ${missing[*]}"
  echo "SKIPPED: the CPU-as-judge run did NOT happen on this machine."
  echo "################################################################################"
  exit 77
fi

# ---- Build ------------------------------------------------------------------------------------------
if [[ $do_build -eq 1 ]]; then
  configure=(cmake -S "$script_dir" -B "$build_dir"
             -DCMAKE_TOOLCHAIN_FILE="$repo_root/cmake/toolchain-aarch64-linux-gnu.cmake")
  if [[ ! -f $build_dir/CMakeCache.txt ]] && command -v ninja >/dev/null 2>&1; then
    configure+=(-G Ninja)
  fi
  configure+=("${cmake_args[@]}")
  mkdir -p "$build_dir"
  if ! "${configure[@]}" >"$build_dir/configure.log" 2>&1; then
    cat "$build_dir/configure.log"
    echo "ERROR: configuring the firmware failed" >&2
    exit 1
  fi
  if ! cmake --build "$build_dir"; then
    echo "ERROR: building the firmware failed" >&2
    exit 1
  fi
fi

image=$build_dir/$image_name.bin
if [[ ! -f $image ]]; then
  echo "ERROR: no image at $image" >&2
  exit 1
fi

# ---- Run --------------------------------------------------------------------------------------------
semihosting="enable=on,target=native"
for a in "${fw_args[@]}"; do
  semihosting+=",arg=$a"
done
cmd=("$qemu" -machine virt,secure=on,virtualization=on,acpi=off -cpu cortex-a57 -m 1024 -nographic -nic none
     -semihosting-config "$semihosting" -bios "$image")
echo "+ timeout $run_timeout ${cmd[*]}"
# The output is also kept for --expect-line (a file of its own: tests may run in parallel).
log=$(mktemp "${TMPDIR:-/tmp}/teemm-qemu-run.XXXXXX")
trap 'rm -f "$log"' EXIT
start=$(date +%s.%N)
timeout -k 5 "$run_timeout" "${cmd[@]}" </dev/null 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
end=$(date +%s.%N)
elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')

if [[ $status -eq 124 || $status -eq 137 ]]; then
  echo "qemu conformance: TIMEOUT after ${run_timeout} s (status $status)"
  status=124
else
  echo "qemu conformance: QEMU exit status $status after ${elapsed} s"
fi

lines_ok=1
for re in "${expect_lines[@]}"; do
  if grep -Eq -- "$re" "$log"; then
    echo "qemu conformance: output has a line matching '$re', as expected"
  else
    echo "qemu conformance: no line of the output matches '$re'"
    lines_ok=0
  fi
done

if [[ -n $expect_status ]]; then
  if [[ $status -eq $expect_status && $lines_ok -eq 1 ]]; then
    echo "qemu conformance: status $status as expected"
    exit 0
  fi
  echo "qemu conformance: expected status $expect_status (got $status) and the expected lines"
  exit 1
fi
if [[ $lines_ok -eq 0 && $status -eq 0 ]]; then
  exit 1
fi
# 77 means "skipped" to CTest; the image never exits with it, but never let a failure look like a skip.
if [[ $status -eq 77 ]]; then
  exit 1
fi
exit "$status"
