// Fuzz target: the device-tree reader and everything downstream of it. The input is either a raw
// blob, or a program that builds a tree with libfdt's sequential writer (nodes nested at will;
// reg, ranges, cells, status, secure-status, device_type, compatible, no-map with fuzzed values),
// optionally with bytes of the finished blob corrupted or the blob truncated.
//
// Invariants: the reader returns a tree or one line of error, never crashes; every range it
// reports is non-empty and ends at or below 2^64; every region derived from it is valid for the
// registry or refused with its name, the registry changes only on success; the layout and tables
// either refuse or translate as laid out; the lint and the C++ printer run to the end.
#include <libfdt.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.hpp"

#include "arch/arm64/walker.hpp"
#include "lint.hpp"
#include "mm/memory_map.hpp"
#include "platform/host/device_tree.hpp"
#include "platform/host/dt_platform.hpp"
#include "platform_render.hpp"
#include "support/host_pool.hpp"

namespace {

using namespace teemm;
namespace host = teemm::platform::host;
using fuzz::check;
using fuzz::Reader;

constexpr int kBlobCapacity = 1 << 16;

const char* const kNames[] = {"memory",   "reserved-memory", "optee_core", "optee_shm", "serial", "soc",
                              "firmware", "optee",           "pcie",       "intc",      "secram", "bus"};
const char* const kCompatibles[] = {"arm,pl011",       "arm,gic-400",       "arm,gic-v3", "linaro,optee-tz",
                                    "ns16550a",        "simple-bus",        "arm,pl061",  "vendor,device",
                                    "shared-dma-pool", "arm,cortex-a15-gic"};

// A cell value: mostly small or page-shaped, sometimes anything.
uint32_t cell(Reader& in) {
  const uint8_t shape = in.take<uint8_t>();
  switch (shape % 4) {
    case 0: return shape >> 2;
    case 1: return uint32_t{in.take<uint16_t>()} << 12;
    case 2: return uint32_t{in.take<uint8_t>()} << 24;
    default: return in.take<uint32_t>();
  }
}

void cells_property(void* fdt, Reader& in, const char* name) {
  const unsigned count = in.take<uint8_t>() % 13;
  std::vector<fdt32_t> values;
  for (unsigned i = 0; i < count; ++i) values.push_back(cpu_to_fdt32(cell(in)));
  fdt_property(fdt, name, values.data(), static_cast<int>(values.size() * sizeof(fdt32_t)));
}

// Builds a tree from the input; false when libfdt ran out of room (the blob is then unused).
bool build(Reader& in, std::vector<char>* blob) {
  blob->assign(kBlobCapacity, 0);
  void* fdt = blob->data();
  if (fdt_create(fdt, kBlobCapacity) != 0 || fdt_finish_reservemap(fdt) != 0 || fdt_begin_node(fdt, "") != 0)
    return false;
  const bool small = in.take<uint8_t>() % 2 == 0;
  fdt_property_u32(fdt, "#address-cells", small ? 1 : 2);
  fdt_property_u32(fdt, "#size-cells", small ? 1 : 2);
  int depth = 0;
  unsigned serial = 0;
  for (unsigned op = 0; op < 200 && in.size > 0; ++op) {
    const uint8_t code = in.take<uint8_t>();
    int status = 0;
    switch (code % 12) {
      case 0:
      case 1: {
        std::string name = kNames[in.take<uint8_t>() % (sizeof(kNames) / sizeof(kNames[0]))];
        name += "@" + std::to_string(serial++);
        if (depth < 80) {
          status = fdt_begin_node(fdt, name.c_str());
          if (status == 0) ++depth;
        }
        break;
      }
      case 2:
        if (depth > 0) {
          status = fdt_end_node(fdt);
          --depth;
        }
        break;
      case 3:
      case 4: cells_property(fdt, in, "reg"); break;
      case 5:
        if (in.take<uint8_t>() % 2 == 0)
          status = fdt_property(fdt, "ranges", nullptr, 0);
        else
          cells_property(fdt, in, "ranges");
        break;
      case 6:
        status = fdt_property_u32(fdt, code & 0x80 ? "#address-cells" : "#size-cells", in.take<uint8_t>() % 6);
        break;
      case 7:
        status = fdt_property_string(fdt, code & 0x80 ? "secure-status" : "status", code & 0x40 ? "okay" : "disabled");
        break;
      case 8: status = fdt_property_string(fdt, "device_type", code & 0x80 ? "memory" : "pci"); break;
      case 9: {  // (fdt_property_string is a macro that evaluates its value twice)
        const char* compatible = kCompatibles[in.take<uint8_t>() % (sizeof(kCompatibles) / sizeof(kCompatibles[0]))];
        status = fdt_property_string(fdt, "compatible", compatible);
        break;
      }
      case 10: status = fdt_property(fdt, code & 0x80 ? "no-map" : "reusable", nullptr, 0); break;
      default: {  // raw bytes for any property the reader looks at
        static const char* const kProperties[] = {
            "reg",        "ranges",      "#address-cells", "status",
            "compatible", "device_type", "method",         "#redistributor-regions"};
        const unsigned length = in.take<uint8_t>() % 24;
        std::vector<uint8_t> bytes;
        for (unsigned i = 0; i < length; ++i) bytes.push_back(in.take<uint8_t>());
        status = fdt_property(fdt, kProperties[(code >> 4) % 8], bytes.data(), static_cast<int>(bytes.size()));
      }
    }
    if (status != 0) return false;
  }
  for (; depth > 0; --depth)
    if (fdt_end_node(fdt) != 0) return false;
  if (fdt_end_node(fdt) != 0 || fdt_finish(fdt) != 0) return false;
  blob->resize(fdt_totalsize(fdt));
  return true;
}

void check_range(const host::DtRange& r) { check(r.size > 0 && r.size - 1 <= UINT64_MAX - r.base); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in{data, size};
  const uint8_t mode = in.take<uint8_t>();
  std::vector<char> blob;
  if (mode % 4 == 0) {
    blob.assign(reinterpret_cast<const char*>(in.data), reinterpret_cast<const char*>(in.data) + in.size);
  } else {
    if (!build(in, &blob)) return 0;
    if (mode % 4 == 3) {  // corrupt what was built: bytes from the input's tail, or a truncation
      for (unsigned i = 0; i < 4 && in.size >= 3; ++i) {
        const uint16_t at = in.take<uint16_t>();
        blob[at % blob.size()] = static_cast<char>(in.take<uint8_t>());
      }
      if (mode & 0x80) blob.resize(blob.size() * (mode & 0x7f) / 128);
    }
  }

  const host::DtReadResult read = host::read_device_tree(blob.data(), blob.size(), "fuzz.dtb");
  if (!read.ok()) {
    check(read.error.find('\n') == std::string::npos && read.error.rfind("fuzz.dtb: ", 0) == 0);
    return 0;
  }
  const host::DeviceTree& tree = read.tree;
  for (const host::DtMemory& m : tree.memory) check_range(m.range);
  for (const host::DtReserved& r : tree.reserved) check_range(r.range);
  for (const host::DtDevice& d : tree.devices) check_range(d.range);

  host::PlatformSpec spec;
  spec.tee_ram = host::TeeRamSpec{0x0e10'0000, 0x10'0000, 0x8'0000, 0x18'0000};
  spec.ta_ram = host::RangeSpec{0x0e40'0000, 0x80'0000};
  spec.shm_vaspace = 0x400'0000;
  spec.io_vaspace = 0x100'0000;
  const host::DtPlatform platform = host::derive_platform(tree, spec);
  check(platform.regions.size() == platform.origins.size());
  for (const mm::Region& r : platform.regions) {
    check(r.name != nullptr);
    const mm::Refusal refusal = mm::check_region(r);
    check(refusal.ok() || (refusal.region != nullptr && std::string(refusal.region) == r.name));
  }
  std::vector<mm::Region> storage(platform.regions.size() + 1);
  mm::PhysMemRegistry registry(storage.data(), storage.size());
  const mm::Refusal refused = registry.add_all(platform.regions.data(), platform.regions.size());
  check(refused.ok() ? registry.count() == platform.regions.size()
                     : registry.count() == 0 && refused.region != nullptr);

  (void)teemm::tool::render_platform_cpp(platform, "fuzz", "teemm platform");
  const teemm::tool::LintReport report = teemm::tool::lint_device_tree(tree, spec, teemm::tool::LintOptions{});
  check(report.has_errors() || refused.ok());  // what the registry refuses, the lint calls an error
  if (!refused.ok()) return 0;

  std::vector<mm::MapEntry> entries(registry.count() + 1);
  mm::MemoryMap map(entries.data(), entries.size());
  if (!map.build(registry, mm::LayoutOptions{}).ok()) {
    check(map.count() == 0);
    return 0;
  }
  testing::HostPool host_pool(256, 0x1000);
  Result<arm64::Stage1Table> table =
      arm64::Stage1Table::create(host_pool.pool, 39, arm64::TranslationRegime::kEl1And0, 40);
  check(table.ok());
  if (!mm::map_static_regions(map, table.value())) return 0;
  for (const mm::MapEntry& e : map) {
    if (e.is_va_reservation()) continue;
    const arm64::WalkResult first =
        arm64::walk(host_pool.memory(), table->raw().root(), arm64::Stage::kStage1, 39, e.va.value, 40);
    const arm64::WalkResult last =
        arm64::walk(host_pool.memory(), table->raw().root(), arm64::Stage::kStage1, 39, e.end_va().value - 1, 40);
    check(first.ok() && first.output == e.pa.value);
    check(last.ok() && last.output == e.pa.value + e.size.bytes - 1);
  }
  return 0;
}
