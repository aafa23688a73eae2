#!/usr/bin/env bash
# Fetches Debian's arm64 kernel and busybox for the Linux end-to-end test (tests/linux) and unpacks
# what the test needs into a cache directory:
#
#   scripts/fetch-linux-arm64.sh DIR
#
#   DIR/Image      the kernel (linux-image-<abi>-arm64-unsigned: an uncompressed arm64 Image)
#   DIR/tee.ko     DIR/optee.ko   the TEE subsystem and the OP-TEE driver (decompressed if .xz/.zst)
#   DIR/busybox    busybox-static's static arm64 binary
#   DIR/VERSION    the kernel release and the package versions
#
# The packages come from the machine's own Debian sources with `apt-get download` (after
# `dpkg --add-architecture arm64` and `apt-get update` when arm64 is not known yet); nothing is
# committed, the .debs are deleted once unpacked, and a complete DIR is reused as it is.
# Exit status: 0 done, 77 the packages cannot be had here (no arm64 lists and no root to add them,
# or the download fails: no network), 1 anything else.
set -euo pipefail

dir=${1:?usage: scripts/fetch-linux-arm64.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
wanted=(Image tee.ko optee.ko busybox VERSION)

complete() {
  local f
  for f in "${wanted[@]}"; do [ -s "$dir/$f" ] || return 1; done
}
if complete; then exit 0; fi

say() { echo "fetch-linux-arm64: $*" >&2; }
cannot() { say "$*"; exit 77; }

for tool in apt-get apt-cache dpkg dpkg-deb; do
  command -v "$tool" >/dev/null 2>&1 || cannot "$tool not found: not a Debian machine"
done

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1; fi
}

# arm64 packages must be known to apt.
updated=no
if ! dpkg --print-foreign-architectures | grep -qx arm64 && [ "$(dpkg --print-architecture)" != arm64 ]; then
  say "adding the arm64 architecture to dpkg"
  as_root dpkg --add-architecture arm64 || cannot "dpkg --add-architecture arm64 needs root"
  as_root apt-get update -qq >/dev/null 2>&1 || cannot "apt-get update failed (no network?)"
  updated=yes
fi

# The kernel flavour Debian's linux-image-arm64 metapackage points at, e.g. linux-image-6.1.0-57-arm64.
kernel_package() {
  apt-cache depends linux-image-arm64:arm64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*-arm64\)\(:arm64\)\{0,1\}$/\1/p' | head -n 1
}
flavour=$(kernel_package)
if [ -z "$flavour" ] && [ "$updated" = no ]; then
  say "apt knows no linux-image-arm64:arm64: apt-get update"
  as_root apt-get update -qq >/dev/null 2>&1 || cannot "apt-get update failed (no network, or not root)"
  flavour=$(kernel_package)
fi
[ -n "$flavour" ] || cannot "no linux-image-arm64:arm64 in the apt lists"
unsigned="${flavour}-unsigned"

work=$(mktemp -d "$dir/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "downloading ${unsigned}:arm64 and busybox-static:arm64"
# apt-get download writes into the current directory; as root it cannot drop to _apt there.
if ! (cd "$work" && apt-get download -q=2 -o APT::Sandbox::User=root "${unsigned}:arm64" busybox-static:arm64) \
  >"$work/download.log" 2>&1; then
  sed 's/^/  /' "$work/download.log" >&2
  cannot "apt-get download failed (no network?)"
fi

kdeb=$(ls "$work"/linux-image-*_arm64.deb)
bdeb=$(ls "$work"/busybox-static_*_arm64.deb)
mkdir "$work/k" "$work/b"
# Only the Image and the two modules (the package holds thousands of modules).
dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$work/k" --wildcards './boot/vmlinuz-*' '*/drivers/tee/*'
dpkg-deb -x "$bdeb" "$work/b"

vmlinuz=$(ls "$work"/k/boot/vmlinuz-*)
release=${vmlinuz##*/vmlinuz-}
# An arm64 Image has "ARM\x64" at offset 56; older or other packagings gzip it.
if [ "$(od -An -c -j 56 -N 4 "$vmlinuz" | tr -d ' ')" = 'ARMd' ]; then
  cp "$vmlinuz" "$work/Image"
elif gzip -t "$vmlinuz" 2>/dev/null; then
  gzip -dc "$vmlinuz" >"$work/Image"
else
  say "$vmlinuz is neither an arm64 Image nor gzip"
  exit 1
fi

module() {  # NAME: find NAME.ko[.xz|.zst] in the kernel package and store it decompressed
  local name=$1 found
  found=$(find "$work/k/lib/modules" \( -name "$name.ko" -o -name "$name.ko.xz" -o -name "$name.ko.zst" \) | head -n 1)
  [ -n "$found" ] || { say "$name.ko not in $unsigned"; exit 1; }
  case "$found" in
    *.xz) xz -dc "$found" >"$work/$name.ko" ;;
    *.zst) zstd -qdc "$found" >"$work/$name.ko" ;;
    *) cp "$found" "$work/$name.ko" ;;
  esac
}
module tee
module optee

cp "$work/b/bin/busybox" "$work/busybox"
{
  echo "kernel $release"
  echo "package ${kdeb##*/}"
  echo "package ${bdeb##*/}"
} >"$work/VERSION"

for f in "${wanted[@]}"; do mv "$work/$f" "$dir/$f"; done
say "$(head -n 1 "$dir/VERSION") cached in $dir"
