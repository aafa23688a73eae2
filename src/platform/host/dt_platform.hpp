// platform/host/dt_platform: a platform (the mm::Region table the registry takes) derived from a
// device tree's facts plus what the tree cannot say.
//
// From the tree:
//   - every memory node entry is DDR (kOverallDdr);
//   - non-secure DDR for dynamic SHM (kNonSecureDdr) is the memory the normal world may use minus
//     every no-map or secure reservation, OP-TEE's carve-out, secure-only memory nodes and the
//     spec's TEE RAM, TA RAM and SDP;
//   - the GIC's distributor, CPU interface and redistributors are mapped at boot as IO_SEC (the
//     core reaches the secure view of the GIC), every UART as IO_SEC when only the secure world may
//     use it and IO_NSEC otherwise;
//   - OP-TEE's static SHM carve-out (/reserved-memory/optee_shm) is NSEC_SHM;
//   - every other enabled device is declared for ioremap (kDeviceIo), IO_SEC when secure-only.
// Device registers are rounded out to whole pages; memory is rounded in.
//
// From the spec (command-line options or a platform file): where TEE RAM is and how it splits into
// code, read-only data and data; TA RAM; the size of the dynamic-SHM VA reservation; optionally the
// IO VA reservation, a static SHM carve-out (instead of the tree's) and SDP memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "mm/phys_mem_registry.hpp"
#include "platform/host/device_tree.hpp"

namespace teemm::platform::host {

struct RangeSpec {
  uint64_t pa = 0;
  uint64_t size = 0;
};
struct TeeRamSpec {
  uint64_t pa = 0;
  uint64_t code = 0;    // TEE_RAM_RX
  uint64_t rodata = 0;  // TEE_RAM_RO, after the code
  uint64_t data = 0;    // TEE_RAM_RW, after the read-only data
  uint64_t size() const { return code + rodata + data; }
};

struct PlatformSpec {
  std::optional<TeeRamSpec> tee_ram;
  std::optional<RangeSpec> ta_ram;
  std::optional<uint64_t> shm_vaspace;
  std::optional<uint64_t> io_vaspace;
  std::optional<RangeSpec> nsec_shm;
  std::optional<RangeSpec> sdp;
};

// The members a map needs that `spec` lacks, by their platform-file names ("tee_ram", "ta_ram",
// "shm_vaspace"), in that order.
std::vector<std::string> missing_members(const PlatformSpec& spec);

// A half-open physical range [begin, end).
struct Interval {
  uint64_t begin = 0;
  uint64_t end = 0;
  uint64_t size() const { return end - begin; }
};
// Sorted, merged union of `ranges`.
std::vector<Interval> interval_union(std::vector<Interval> ranges);
// `from` minus `minus` (both any order); the result is sorted and merged.
std::vector<Interval> interval_subtract(const std::vector<Interval>& from, const std::vector<Interval>& minus);
uint64_t page_floor(uint64_t value);
// Rounds up to a page, saturating at the last page (never wraps).
uint64_t page_ceil(uint64_t value);

// What the derivation saw as secure memory and as memory the normal world may use, before any
// page rounding (for the lint).
struct MemoryView {
  std::vector<Interval> non_secure_memory;  // memory nodes available to the normal world
  std::vector<Interval> secure_memory;      // secure-only memory nodes, OP-TEE's and secure-only reservations
  std::vector<Interval> withheld;           // no-map or secure reservations, secure memory
};
MemoryView memory_view(const DeviceTree& tree);

class DtPlatform {
 public:
  DtPlatform() = default;
  DtPlatform(const DtPlatform&) = delete;
  DtPlatform& operator=(const DtPlatform&) = delete;
  DtPlatform(DtPlatform&&) = default;
  DtPlatform& operator=(DtPlatform&&) = default;

  std::string source;                // the tree's file
  std::string model;                 // its model
  std::vector<mm::Region> regions;   // names point into this object: keep it alive while they are used
  std::vector<std::string> origins;  // per region: the node and reg entry, or the spec member
  std::vector<DtRange> unrounded;    // per region: the range before page rounding

  // Adds a region, its name copied into this object; `unrounded` defaults to the region's own range.
  void add(const mm::Region& region, const std::string& name, const std::string& origin,
           std::optional<DtRange> unrounded = std::nullopt);
  // The origin of the region named `name` ("" if none).
  const std::string& origin_of(const char* name) const;

 private:
  std::deque<std::string> names_;
};

// Derives the platform; never fails (the registry judges the result: a tree whose devices meet
// its memory is refused there, with both names).
DtPlatform derive_platform(const DeviceTree& tree, const PlatformSpec& spec);

}  // namespace teemm::platform::host
