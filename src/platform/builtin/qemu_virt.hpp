// platform/builtin/qemu_virt: the built-in platform — QEMU's `virt` machine with secure=on, laid
// out as OP-TEE's QEMU-armv8a port lays it out. A constexpr table, usable freestanding (the
// bare-metal conformance image registers exactly this), and validated at compile time.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mm/phys_mem_registry.hpp"

namespace teemm::platform::qemu_virt {

// Physical layout (QEMU hw/arm/virt.c with secure=on; OP-TEE plat-vexpress qemu_armv8a).
inline constexpr uint64_t kGicBase = 0x0800'0000;  // distributor, CPU interface at +64 KiB
inline constexpr uint64_t kGicSize = 0x2'0000;
inline constexpr uint64_t kUart0Base = 0x0900'0000;       // PL011, non-secure console
inline constexpr uint64_t kSecureUartBase = 0x0904'0000;  // PL011, secure world's console
inline constexpr uint64_t kUartSize = 0x1000;
// Devices the core may ioremap at run time (QEMU hw/arm/virt.c memmap), not mapped at boot.
inline constexpr uint64_t kRtcBase = 0x0901'0000;         // PL031
inline constexpr uint64_t kGpioBase = 0x0903'0000;        // PL061, non-secure
inline constexpr uint64_t kSecureGpioBase = 0x090b'0000;  // PL061, secure=on only
inline constexpr uint64_t kPl0x1Size = 0x1000;
inline constexpr uint64_t kVirtioMmioBase = 0x0a00'0000;  // 32 transports of 0x200 bytes
inline constexpr uint64_t kVirtioMmioSize = 0x4000;
inline constexpr uint64_t kSecureRamBase = 0x0e00'0000;  // 16 MiB; the first MiB holds boot firmware
inline constexpr uint64_t kSecureRamSize = 0x100'0000;
inline constexpr uint64_t kTeeRamBase = 0x0e10'0000;
inline constexpr uint64_t kTeeRamRxSize = 0x10'0000;  // 1 MiB code
inline constexpr uint64_t kTeeRamRoBase = kTeeRamBase + kTeeRamRxSize;
inline constexpr uint64_t kTeeRamRoSize = 0x8'0000;  // 512 KiB read-only data
inline constexpr uint64_t kTeeRamRwBase = kTeeRamRoBase + kTeeRamRoSize;
inline constexpr uint64_t kTeeRamRwSize = 0x18'0000;  // 1.5 MiB data, stacks, table pool
inline constexpr uint64_t kTaRamBase = 0x0e40'0000;
inline constexpr uint64_t kTaRamSize = 0x80'0000;  // 8 MiB
inline constexpr uint64_t kSdpBase = 0x0ec0'0000;  // last 4 MiB of secure RAM
inline constexpr uint64_t kSdpSize = 0x40'0000;
inline constexpr uint64_t kDramBase = 0x4000'0000;
inline constexpr uint64_t kDramSize = 0x4000'0000;     // 1 GiB of non-secure DRAM
inline constexpr uint64_t kNsecShmBase = 0x4200'0000;  // static SHM carve-out
inline constexpr uint64_t kNsecShmSize = 0x20'0000;
inline constexpr uint64_t kShmVaSpaceSize = 0x400'0000;  // 64 MiB of VA for dynamic SHM
inline constexpr uint64_t kIoVaSpaceSize = 0x100'0000;   // 16 MiB of VA for ioremap

inline constexpr mm::Region kRegions[] = {
    mm::mapped_region("tee-code", mm::MemoryType::kTeeRamRx, kTeeRamBase, kTeeRamRxSize),
    mm::mapped_region("tee-rodata", mm::MemoryType::kTeeRamRo, kTeeRamRoBase, kTeeRamRoSize),
    mm::mapped_region("tee-data", mm::MemoryType::kTeeRamRw, kTeeRamRwBase, kTeeRamRwSize),
    mm::mapped_region("ta-ram", mm::MemoryType::kTaRam, kTaRamBase, kTaRamSize),
    mm::mapped_region("gic", mm::MemoryType::kIoSec, kGicBase, kGicSize),
    mm::mapped_region("secure-uart", mm::MemoryType::kIoSec, kSecureUartBase, kUartSize),
    mm::mapped_region("uart0", mm::MemoryType::kIoNsec, kUart0Base, kUartSize),
    mm::mapped_region("nsec-shm", mm::MemoryType::kNsecShm, kNsecShmBase, kNsecShmSize),
    mm::va_reservation("shm-vaspace", mm::MemoryType::kShmVaspace, kShmVaSpaceSize),
    mm::va_reservation("io-vaspace", mm::MemoryType::kResVaspace, kIoVaSpaceSize),
    mm::device_region("rtc", mm::MemoryType::kIoNsec, kRtcBase, kPl0x1Size),
    mm::device_region("gpio", mm::MemoryType::kIoNsec, kGpioBase, kPl0x1Size),
    mm::device_region("secure-gpio", mm::MemoryType::kIoSec, kSecureGpioBase, kPl0x1Size),
    mm::device_region("virtio-mmio", mm::MemoryType::kIoNsec, kVirtioMmioBase, kVirtioMmioSize),
    mm::sdp_region("sdp", kSdpBase, kSdpSize),
    mm::nsec_ddr_region("nsec-ddr", kDramBase, kDramSize),
    mm::ddr_region("secure-ram", kSecureRamBase, kSecureRamSize),
    mm::ddr_region("dram", kDramBase, kDramSize),
};
inline constexpr size_t kRegionCount = sizeof(kRegions) / sizeof(kRegions[0]);

static_assert(mm::validate_regions(kRegions, kRegionCount).ok(), "qemu-virt platform table is invalid");

// Default layout: a 39-bit VA space, identity-mapped.
inline constexpr unsigned kVaBits = 39;

}  // namespace teemm::platform::qemu_virt
