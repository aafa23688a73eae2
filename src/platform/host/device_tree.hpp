// platform/host/device_tree: what a flattened device tree says about memory, as facts with the
// nodes they came from. Host-only (std::string, libfdt, a dtc child process); never built into the
// freestanding core.
//
// Read: memory nodes (device_type = "memory", every reg entry, with their status/secure-status),
// /reserved-memory children (static reg entries; no-map, reusable; OP-TEE's carve-outs), the
// /firmware/optee node, and every enabled device with a compatible string and a reg that reaches
// the CPU's physical address space (UARTs and GICs recognised). #address-cells/#size-cells are
// honoured at every level and reg entries are translated through every ancestor's `ranges`, as
// Linux's of_translate_address does: a node whose parent chain lacks `ranges` (I2C, SPI, CPUs) has
// no CPU address and is no device here.
//
// Malformed input is never a crash: the blob is checked whole (fdt_check_full) before any read,
// nesting and entry counts are bounded, and every error names the node at fault:
//   "/memory@40000000: reg is 12 bytes, not a multiple of 16 (#address-cells 2, #size-cells 2)".
// What is well-formed but unusable (a dynamic reservation, a reg outside its bus's ranges, a
// memory node of size 0) is kept as a note for the lint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace teemm::platform::host {

// Which worlds may use a node: `status` is the normal world's, `secure-status` the secure world's
// (the value of `status` when absent), as in Linux's Documentation/devicetree/bindings/arm/secure.txt.
// A node is usable only where its parent is too.
struct Availability {
  bool non_secure = true;
  bool secure = true;
  bool secure_only() const { return secure && !non_secure; }
  bool any() const { return secure || non_secure; }
};
const char* availability_name(const Availability& a);  // "both", "secure-only", "non-secure-only", "disabled"

// A physical range; end() never wraps (the reader refuses ranges that would).
struct DtRange {
  uint64_t base = 0;
  uint64_t size = 0;
  uint64_t end() const { return base + size; }
};

// One reg entry of a memory node.
struct DtMemory {
  std::string node;  // full path
  unsigned index = 0;
  DtRange range;
  Availability availability;
};

enum class ReservedRole : uint8_t {
  kOther,      // any other carve-out (firmware, CMA, ramoops, ...)
  kOpteeCore,  // OP-TEE's own secure memory (optee_core, optee, tee, ...)
  kOpteeShm,   // OP-TEE's static shared memory with the normal world (optee_shm)
};
const char* reserved_role_name(ReservedRole role);

// One reg entry of a /reserved-memory child.
struct DtReserved {
  std::string node;
  unsigned index = 0;
  DtRange range;
  bool no_map = false;
  bool reusable = false;
  ReservedRole role = ReservedRole::kOther;
  Availability availability;
};

enum class DeviceClass : uint8_t { kUart, kGic, kOther };
const char* device_class_name(DeviceClass c);

// One reg entry of an enabled device, translated to a CPU physical address.
struct DtDevice {
  std::string node;
  unsigned index = 0;
  DtRange range;
  std::string compatible;  // the first compatible string
  DeviceClass device_class = DeviceClass::kOther;
  bool gic_cpu_facing = false;  // a GIC distributor, CPU interface or redistributor (not GICH/GICV)
  Availability availability;
};

enum class NoteLevel : uint8_t { kInfo, kWarning, kError };

// Something well-formed the reader could not use, or that a porter should know.
struct DtNote {
  NoteLevel level = NoteLevel::kInfo;
  std::string node;
  std::string text;
};

struct DeviceTree {
  std::string source;  // the file, for messages
  std::string model;   // /model, or /compatible's first string
  size_t node_count = 0;
  std::vector<DtMemory> memory;
  std::vector<DtReserved> reserved;
  std::vector<DtDevice> devices;
  std::vector<DtNote> notes;
  bool reserved_memory_node = false;  // a /reserved-memory node exists
  std::string optee_node;             // /firmware/optee (or any "linaro,optee-tz" node), "" if none
  std::string optee_method;           // its method: "smc", "hvc", or ""
};

struct DtReadResult {
  DeviceTree tree;
  std::string error;  // "" on success; otherwise one line naming the node at fault
  bool ok() const { return error.empty(); }
};

// Bounds that keep any input cheap: nesting (Linux's FDT_MAX_DEPTH), reg/ranges entries in the
// whole tree, and the blob itself.
inline constexpr int kMaxDepth = 64;
inline constexpr size_t kMaxEntries = 8192;  // Debian's largest arm64 tree has about 300
inline constexpr size_t kMaxBlobSize = size_t{64} << 20;

// Reads a flattened tree held in memory. `source` only prefixes messages.
DtReadResult read_device_tree(const void* blob, size_t size, const std::string& source);
// Reads a .dtb file.
DtReadResult read_dtb_file(const std::string& path);
// Compiles a .dts file with dtc (a child process, its messages kept) and reads the result.
DtReadResult read_dts_file(const std::string& path);

// Runs `dtc -I dts -O dtb` on `path`. On failure returns a one-line error with dtc's first message.
std::string compile_dts(const std::string& path, std::vector<char>* blob);

}  // namespace teemm::platform::host
