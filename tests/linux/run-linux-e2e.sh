#!/usr/bin/env bash
# tests/linux/run-linux-e2e.sh: Debian's arm64 Linux and its OP-TEE driver against teemm's secure
# world, on QEMU's virt machine (issue 12).
#
#   tests/linux/run-linux-e2e.sh prepare DIR   build and fetch everything (idempotent, cached in DIR)
#   tests/linux/run-linux-e2e.sh run DIR       prepare, then boot, run, check both consoles
#
# Options (after DIR): --stage boot|probe|full|reset (default full: boot, insmod, the client; boot
# stops after the shell is up, probe after the driver probed, reset is boot ending with `reboot -f`,
# i.e. PSCI SYSTEM_RESET instead of SYSTEM_OFF), --timeout S (QEMU, default 50), --smp 2
# (two CPUs, both with enable-method "psci": Linux's CPU_ON for the second must be refused cleanly
# by the monitor and Linux must go on with one), --image NAME (a test-only firmware variant, default
# teemm_linux_fw), --expect-fail REGEX (repeatable: the run must FAIL, and each REGEX must match a
# line of one of the consoles, so that a broken variant is caught for the intended reason), --el2
# (virtualization=on: the CPU has EL2, the kernel starts there and brings KVM up).
#
# prepare: the firmware (firmware/qemu-virt-linux, cross-built in DIR/firmware), Debian's kernel,
# tee.ko, optee.ko and busybox (scripts/fetch-linux-arm64.sh into DIR/debian), the client
# (tests/linux/teemm_client.c, static), all shared by every configuration (under a lock); then, in
# DIR/<image>-smp<N>-<stage>, the initramfs (busybox, tests/linux/init.sh as /init, the modules, the client)
# and the device tree (QEMU's own, dumpdtb, plus tests/linux/teemm-linux.dtsi).
# run: QEMU with the firmware as -bios, the DTB through -dtb (QEMU copies it to 0x40000000), the
# kernel at 0x44000000 and the initramfs at 0x48000000 (-device loader); the normal world's console
# (UART0) goes to DIR/<image>-smp<N>-<stage>/run/normal.log, the secure UART to .../run/secure.log.
# The run passes when the
# driver probed with dynamic shared memory, /dev/tee0 and /dev/teepriv0 exist, the client passed,
# the secure world's final report is clean (nothing live, every audit held) and the machine powered
# off through PSCI SYSTEM_OFF; otherwise it fails with the last lines of both consoles.
#
# Exit status: 0 pass, 1 fail, 77 skip (a tool is missing or the packages cannot be fetched, and CI
# is not set; with CI set those fail).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
command=${1:-}
dir=${2:-}
if [ -z "$command" ] || [ -z "$dir" ] || { [ "$command" != prepare ] && [ "$command" != run ]; }; then
  echo "usage: $0 prepare|run DIR [--stage boot|probe|full|reset] [--timeout S] [--smp 1|2] [--image NAME]" \
    "[--expect-fail REGEX]..." >&2
  exit 2
fi
shift 2
stage=full
timeout_s=50
smp=1
image=teemm_linux_fw
expect_fail=()
el2=no
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --expect-fail) expect_fail+=("$2"); shift 2 ;;
    --el2) el2=yes; shift ;;
    *) echo "$0: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$stage" in boot | probe | full | reset) ;; *) echo "$0: --stage boot|probe|full|reset" >&2; exit 2 ;; esac
case "$smp" in 1 | 2) ;; *) echo "$0: --smp 1|2" >&2; exit 2 ;; esac
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

say() { echo "linux-e2e: $*"; }
skip() {
  if [ -n "${CI:-}" ]; then
    say "FAIL (CI is set, so this cannot be skipped): $*"
    exit 1
  fi
  echo "************************************************************************" >&2
  echo "linux-e2e: SKIPPED: $*" >&2
  echo "************************************************************************" >&2
  exit 77
}
die() { say "FAIL: $*"; exit 1; }

# The machine, the same for dumpdtb and the run.
virt=virt,secure=on,acpi=off
[ "$el2" = yes ] && virt=virt,secure=on,virtualization=on,acpi=off
machine=(-machine "$virt" -cpu cortex-a57 -smp "$smp" -m 1024)
kernel_base=0x44000000
initrd_base=0x48000000

# This configuration's own files (initramfs, device tree, consoles): runs of other configurations
# may go on at the same time (ctest -j) and share only what prepare_shared makes, under a lock.
out=$dir/$image-smp$smp-$stage$([ "$el2" = yes ] && echo -el2)

# What every configuration uses: Debian's files, the firmware, the client.
prepare_shared() {
  local tool
  for tool in qemu-system-aarch64 aarch64-linux-gnu-gcc aarch64-linux-gnu-g++ cmake ninja dtc cpio timeout flock; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool not found (scripts/setup.sh installs it)"
  done
  exec 9>"$dir/.prepare.lock"
  flock 9

  # Debian's kernel and busybox (first: a machine that cannot fetch them skips at once).
  local status=0
  "$root/scripts/fetch-linux-arm64.sh" "$dir/debian" || status=$?
  [ "$status" -eq 77 ] && skip "Debian's arm64 kernel and busybox-static cannot be fetched (see above)"
  [ "$status" -eq 0 ] || die "scripts/fetch-linux-arm64.sh failed ($status)"

  # The firmware: incremental after the first build.
  if [ ! -f "$dir/firmware/build.ninja" ]; then
    cmake -S "$root/firmware/qemu-virt-linux" -B "$dir/firmware" -G Ninja >"$dir/firmware-configure.log" 2>&1 ||
      { cat "$dir/firmware-configure.log"; die "configuring the firmware"; }
  fi
  cmake --build "$dir/firmware" >"$dir/firmware-build.log" 2>&1 ||
    { tail -n 40 "$dir/firmware-build.log"; die "building the firmware"; }

  # The client, static.
  local client=$dir/teemm-client src=$root/tests/linux/teemm_client.c
  if [ ! -x "$client" ] || [ "$src" -nt "$client" ]; then
    aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror -o "$client.tmp" "$src" || die "building the client"
    mv "$client.tmp" "$client"
  fi
  flock -u 9
}

prepare() {
  prepare_shared
  mkdir -p "$out"
  local client=$dir/teemm-client

  # The initramfs.
  local staging=$out/initramfs
  rm -rf "$staging"
  mkdir -p "$staging/bin" "$staging/lib/modules"
  cp "$dir/debian/busybox" "$staging/bin/busybox"
  cp "$dir/debian/tee.ko" "$dir/debian/optee.ko" "$staging/lib/modules/"
  cp "$root/tests/linux/init.sh" "$staging/init"
  cp "$client" "$staging/teemm-client"
  chmod 755 "$staging/init" "$staging/bin/busybox" "$staging/teemm-client"
  (cd "$staging" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$out/initramfs.cpio" ||
    die "making the initramfs"

  # The device tree: QEMU's own for this machine, plus ours.
  timeout 30 qemu-system-aarch64 "${machine[@]}" -machine dumpdtb="$out/qemu.dtb" -nographic -nic none \
    >"$out/dumpdtb.log" 2>&1 || { cat "$out/dumpdtb.log"; die "qemu dumpdtb"; }
  local size end bootargs
  size=$(stat -c %s "$out/initramfs.cpio")
  end=$(printf '0x%x' $((initrd_base + size)))
  bootargs="console=ttyAMA0 earlycon=pl011,0x9000000 nokaslr rdinit=/init panic=-1 teemm=$stage"
  {
    dtc -q -I dtb -O dts "$out/qemu.dtb"
    sed -e "s|@BOOTARGS@|$bootargs|" -e "s|@INITRD_END@|$end|" "$root/tests/linux/teemm-linux.dtsi"
    # QEMU's cpu nodes name no enable-method (it runs no PSCI of its own behind -bios): with more
    # than one CPU, Linux is told to start the others with PSCI, which the monitor refuses.
    local cpu
    for ((cpu = 0; cpu < smp && smp > 1; ++cpu)); do echo "&{/cpus/cpu@$cpu} { enable-method = \"psci\"; };"; done
  } >"$out/teemm.dts" || die "decompiling QEMU's device tree"
  dtc -q -I dts -O dtb -o "$out/teemm.dtb" "$out/teemm.dts" || die "compiling the device tree"
}

# ---- The run ---------------------------------------------------------------------------------------
failures=()
expect() {  # FILE REGEX WHAT
  grep -Eq -- "$2" "$1" || failures+=("$3 (no line matching /$2/ in ${1##*/})")
}
refuse() {  # FILE REGEX WHAT
  local line
  line=$(grep -Em1 -- "$2" "$1") && failures+=("$3: ${line}")
}

run() {
  local run=$out/run
  rm -rf "$run"
  mkdir -p "$run"
  local normal=$run/normal.log secure=$run/secure.log
  : >"$normal"
  : >"$secure"
  [ -f "$dir/firmware/$image.bin" ] || die "no firmware image $image"
  say "booting $(head -n 1 "$dir/debian/VERSION") on $image ($virt, $smp CPU, stage $stage, timeout ${timeout_s} s)"
  local start status=0
  start=$(date +%s%N)
  # serial 0 = UART0 (the normal world's console), serial 1 = the secure UART (virt,secure=on).
  timeout --kill-after=5 "$timeout_s" qemu-system-aarch64 "${machine[@]}" -display none -monitor none -nic none \
    -no-reboot -serial "file:$normal" -serial "file:$secure" \
    -bios "$dir/firmware/$image.bin" -dtb "$out/teemm.dtb" \
    -device "loader,file=$dir/debian/Image,addr=$kernel_base,force-raw=on" \
    -device "loader,file=$out/initramfs.cpio,addr=$initrd_base,force-raw=on" \
    >"$run/qemu.log" 2>&1 || status=$?
  local ms seconds
  ms=$((($(date +%s%N) - start) / 1000000))
  seconds=$(printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100)))
  say "QEMU exited with status $status after ${seconds} s"
  sed -i 's/\r$//' "$normal" "$secure"  # the kernel's tty writes CR LF

  [ "$status" -eq 0 ] || failures+=("QEMU exit status $status$([ "$status" -ge 124 ] && echo ' (timeout)')")
  # The normal world.
  expect "$normal" '^teemm-init: Linux .* up' "the kernel did not reach /init"
  expect "$normal" 'psci: PSCIv1\.0 detected in firmware' "the kernel did not find PSCI 1.0"
  refuse "$normal" 'Kernel panic|Oops|BUG:|WARNING:|Unable to handle|Internal error|rcu_sched self-detected' \
    "the kernel complained"
  refuse "$normal" 'teemm-init: FAIL|teemm-client: FAIL' "the test failed in the normal world"
  refuse "$normal" 'optee: api uid mismatch|probe of .*optee.* failed|optee: .*mismatch' "the driver did not probe"
  if [ "$el2" = yes ]; then
    expect "$normal" 'CPU: All CPU\(s\) started at EL2' "the kernel did not start at EL2"
    expect "$normal" 'kvm \[1\]: Hyp mode initialized successfully' "KVM did not come up at EL2"
    expect "$secure" '^teemm-el3: entering the normal world at 0x[0-9a-f]+ \(NS-EL2\)' "the monitor did not enter NS-EL2"
  else
    expect "$secure" '^teemm-el3: entering the normal world at 0x[0-9a-f]+ \(NS-EL1\)' "the monitor did not enter NS-EL1"
  fi
  if [ "$smp" -gt 1 ]; then
    expect "$normal" 'psci: failed to boot CPU1 \(-22\)' "Linux did not try to start CPU1 with PSCI CPU_ON"
    expect "$normal" 'smp: Brought up 1 node, 1 CPU' "Linux did not go on with one CPU"
    expect "$secure" '^teemm-el3: PSCI CPU_ON 0x1 refused \(-2\)$' "the monitor did not refuse CPU_ON"
  fi
  if [ "$stage" = probe ] || [ "$stage" = full ]; then
    expect "$normal" 'optee: dynamic shared memory is enabled' "the driver did not enable dynamic shared memory"
    expect "$normal" 'optee: initialized driver' "the driver did not initialise"
    expect "$normal" '^teemm-init: modules loaded: optee tee' "the modules are not loaded"
    expect "$normal" '^teemm-init: devices: crw------- [0-9]+, +0 /dev/tee0;crw------- [0-9]+, +16 /dev/teepriv0;' \
      "/dev/tee0 and /dev/teepriv0 did not appear"
  fi
  if [ "$stage" = full ]; then
    expect "$normal" '^teemm-client: /dev/tee0: impl_id 1, impl_caps 0x1, gen_caps 0x5$' "TEE_IOC_VERSION"
    expect "$normal" '^teemm-client: 16 heap buffers registered \([0-9]+ KiB\), all live at once$' \
      "the registered buffers"
    expect "$normal" '^teemm-client: FILL of every registered buffer verified byte by byte$' "FILL"
    expect "$normal" '^teemm-client: RPC_ALLOC 1048576: ' "RPC_ALLOC"
    expect "$normal" '^teemm-client: RPC_CMD 300000: ' "RPC_CMD"
    expect "$normal" '^teemm-client: PASS \([0-9]+ checks\)$' "the client did not pass"
    expect "$normal" '^teemm-init: client exit status 0$' "the client's exit status"
  fi
  if [ "$stage" = reset ]; then
    expect "$normal" 'reboot: Restarting system' "Linux did not restart"
  else
    expect "$normal" 'reboot: Power down' "Linux did not power off"
  fi

  # The secure world.
  expect "$secure" '^teemm: OP-TEE ABI ready' "the secure world did not start"
  expect "$secure" '^teemm-el3: entering the normal world' "the monitor did not enter the normal world"
  refuse "$secure" 'PANIC|audit FAILED|unexpected' "the secure world complained"
  if [ "$stage" = probe ] || [ "$stage" = full ]; then
    expect "$secure" '^teemm: fast call 0xbf00ff01 .* -> 0x384fb3e0 0xe7f811e3 0xaf630002 0xa5d5c51b$' "CALLS_UID"
    expect "$secure" '^teemm: fast call 0xb2000009 .* -> 0x0 0x4 ' "EXCHANGE_CAPABILITIES (DYNAMIC_SHM)"
  fi
  if [ "$stage" = full ]; then
    # The 8 MiB buffer's page list (2049 pages: the buffer does not start on a page boundary).
    expect "$secure" '^teemm: call [0-9]+ REGISTER_SHM 8388608 bytes at \+0x[0-9a-f]+ -> a0 0x0 ret 0x00000000 ' \
      "the 8 MiB registration"
    expect "$secure" '^teemm: call [0-9]+ suspended: RPC ALLOC' "an RPC ALLOC"
    expect "$secure" '^teemm: call [0-9]+ suspended: RPC CMD' "an RPC CMD"
    expect "$secure" '^teemm: call [0-9]+ CLOSE_SESSION .* ret 0x00000000 .*live: 0 objects, 0 sessions, 0 threads' \
      "the session's close"
  fi
  if [ "$stage" = reset ]; then
    expect "$secure" '^teemm-el3: PSCI SYSTEM_RESET' "no PSCI SYSTEM_RESET"
    expect "$secure" '^teemm-el3: system reset$' "the monitor did not reset the machine"
  else
    expect "$secure" '^teemm-el3: PSCI SYSTEM_OFF' "no PSCI SYSTEM_OFF"
    expect "$secure" '^teemm-el3: power off$' "the monitor did not power off"
  fi
  expect "$secure" '^teemm: final: 0 objects, 0 sessions, 0 threads, 0 shm ranges, 0 io ranges;' \
    "something is still live in the secure world"
  expect "$secure" '^teemm: final state CLEAN$' "the secure world's final state is not clean"

  if [ ${#expect_fail[@]} -ne 0 ]; then
    # A broken variant: the run must fail, for the reason given.
    local missing=() r f
    for r in "${expect_fail[@]}"; do
      grep -Eq -- "$r" "$normal" "$secure" || missing+=("$r")
    done
    if [ ${#failures[@]} -eq 0 ] || [ ${#missing[@]} -ne 0 ]; then
      say "FAIL: $image was expected to fail the run, with lines matching:"
      for r in "${expect_fail[@]}"; do echo "  /$r/"; done
      [ ${#failures[@]} -eq 0 ] && echo "  but every check passed"
      for r in "${missing[@]}"; do echo "  no line matches /$r/"; done
      show_consoles
      exit 1
    fi
    say "the run failed as it must ($image):"
    for f in "${failures[@]}"; do echo "  - $f"; done
    for r in "${expect_fail[@]}"; do grep -Eh -m1 -- "$r" "$normal" "$secure" | sed 's/^/linux-e2e:   witness: /'; done
    say "PASS (the checks caught $image; ${seconds} s in QEMU)"
    return
  fi
  if [ ${#failures[@]} -ne 0 ]; then
    local f
    say "FAIL:"
    for f in "${failures[@]}"; do echo "  - $f"; done
    show_consoles
    exit 1
  fi
  grep -E '^teemm-client: PASS|^teemm-init: done' "$normal" | sed 's/^/linux-e2e:   /'
  grep -E '^teemm: final|^teemm-el3: secure world final' "$secure" | sed 's/^/linux-e2e:   /'
  say "PASS (stage $stage, ${seconds} s in QEMU)"
}

show_consoles() {
  local normal=$out/run/normal.log secure=$out/run/secure.log
  echo "---- last 40 lines of the normal world's console ($normal) ----"
  tail -n 40 "$normal"
  echo "---- last 40 lines of the secure console ($secure) ----"
  tail -n 40 "$secure"
  if [ -s "$out/run/qemu.log" ]; then
    echo "---- QEMU ----"
    tail -n 20 "$out/run/qemu.log"
  fi
}

prepare
[ "$command" = run ] && run
exit 0
