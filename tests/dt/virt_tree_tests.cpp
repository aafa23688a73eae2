// QEMU's own device tree for -machine virt,secure=on — dumped by QEMU in the test set-up
// (tests/dt/dump-virt-dtb.sh, a CTest fixture), so it is QEMU's and not ours — against the built-in
// qemu-virt platform: where the tree says something, the derived platform must say the same, and
// with the rest from tests/dt/qemu-virt.json the tables must be the built-in's, walk for walk.
// Without QEMU the fixture skips and so do these tests (loudly); with CI set they fail.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <string>
#include <tuple>
#include <vector>

#include "dt_commands.hpp"
#include "dt_source.hpp"
#include "lint.hpp"
#include "platform/builtin/qemu_virt.hpp"
#include "platform/host/device_tree.hpp"
#include "platform/host/dt_platform.hpp"
#include "session.hpp"

namespace {

using namespace teemm;
namespace host = teemm::platform::host;
namespace builtin = teemm::platform::qemu_virt;

#define REQUIRE_VIRT_DTB()                                                                                 \
  struct stat virt_dtb_info {};                                                                            \
  if (stat(TEEMM_VIRT_DTB, &virt_dtb_info) != 0 || virt_dtb_info.st_size == 0) {                           \
    if (std::getenv("CI") != nullptr) FAIL() << "no QEMU device tree at " TEEMM_VIRT_DTB " and CI is set"; \
    GTEST_SKIP() << "SKIPPED: no QEMU device tree at " TEEMM_VIRT_DTB                                      \
                    " (qemu-system-aarch64 missing? see the "                                              \
                    "dt_dump_virt_tree test)";                                                             \
  }

host::DeviceTree virt_tree() {
  host::DtReadResult r = host::read_dtb_file(TEEMM_VIRT_DTB);
  EXPECT_TRUE(r.ok()) << r.error;
  return r.tree;
}

host::PlatformSpec virt_spec() {
  host::PlatformSpec spec;
  EXPECT_EQ(tool::parse_platform_file(std::string(TEEMM_DT_FIXTURES) + "/qemu-virt.json", &spec), "");
  return spec;
}

const host::DtDevice* device(const host::DeviceTree& t, const std::string& node, unsigned index = 0) {
  for (const host::DtDevice& d : t.devices)
    if (d.node == node && d.index == index) return &d;
  return nullptr;
}

// The union of the regions of one kind and type.
std::vector<host::Interval> coverage(const std::vector<mm::Region>& regions, mm::RegionKind kind, mm::MemoryType type) {
  std::vector<host::Interval> out;
  for (const mm::Region& r : regions)
    if (r.kind == kind && r.type == type && !r.is_va_reservation()) out.push_back({r.base.value, r.end()});
  return host::interval_union(out);
}

std::vector<mm::Region> builtin_regions() {
  return std::vector<mm::Region>(builtin::kRegions, builtin::kRegions + builtin::kRegionCount);
}

std::string text(const std::vector<host::Interval>& v) {
  std::string out;
  for (const host::Interval& i : v) out += tool::hex_address(i.begin) + ".." + tool::hex_address(i.end) + " ";
  return out;
}

TEST(VirtTree, ReadsWhatQemuDescribes) {
  REQUIRE_VIRT_DTB();
  const host::DeviceTree t = virt_tree();
  EXPECT_EQ(t.model, "linux,dummy-virt");
  ASSERT_EQ(t.memory.size(), 2u);
  EXPECT_EQ(t.memory[0].node, "/memory@40000000");
  EXPECT_EQ(t.memory[0].range.base, builtin::kDramBase);
  EXPECT_EQ(t.memory[0].range.size, builtin::kDramSize);
  EXPECT_FALSE(t.memory[0].availability.secure_only());
  // QEMU marks secure-only nodes with secure-status = "okay" and status = "disabled".
  EXPECT_EQ(t.memory[1].node, "/secram@e000000");
  EXPECT_EQ(t.memory[1].range.base, builtin::kSecureRamBase);
  EXPECT_EQ(t.memory[1].range.size, builtin::kSecureRamSize);
  EXPECT_TRUE(t.memory[1].availability.secure_only());
  EXPECT_TRUE(t.reserved.empty());
  EXPECT_EQ(t.optee_node, "");  // firmware adds /firmware/optee; QEMU does not

  const host::DtDevice* uart0 = device(t, "/pl011@9000000");
  ASSERT_NE(uart0, nullptr);
  EXPECT_EQ(uart0->device_class, host::DeviceClass::kUart);
  EXPECT_FALSE(uart0->availability.secure_only());
  const host::DtDevice* secure_uart = device(t, "/pl011@9040000");
  ASSERT_NE(secure_uart, nullptr);
  EXPECT_EQ(secure_uart->range.base, builtin::kSecureUartBase);
  EXPECT_TRUE(secure_uart->availability.secure_only());
  for (unsigned i = 0; i < 2; ++i) {
    const host::DtDevice* gic = device(t, "/intc@8000000", i);
    ASSERT_NE(gic, nullptr);
    EXPECT_EQ(gic->device_class, host::DeviceClass::kGic);
    EXPECT_TRUE(gic->gic_cpu_facing);
  }
  EXPECT_EQ(device(t, "/intc@8000000/v2m@8020000"), nullptr);  // a part of the GIC
  const host::DtDevice* secure_gpio = device(t, "/pl061@90b0000");
  ASSERT_NE(secure_gpio, nullptr);
  EXPECT_TRUE(secure_gpio->availability.secure_only());
}

TEST(VirtTree, TheDerivedPlatformIsTheBuiltInOneWhereTheyOverlap) {
  REQUIRE_VIRT_DTB();
  const host::DtPlatform derived = host::derive_platform(virt_tree(), virt_spec());
  ASSERT_TRUE(mm::validate_regions(derived.regions.data(), derived.regions.size()).ok());
  const std::vector<mm::Region> expected = builtin_regions();
  using K = mm::RegionKind;
  using T = mm::MemoryType;
  // Exactly the same: what is mapped at boot (GIC, UARTs, and the spec's TEE RAM, TA RAM, SHM),
  // all DRAM, non-secure DDR, SDP.
  for (const auto& [kind, type] : std::vector<std::pair<K, T>>{{K::kMapped, T::kIoSec},
                                                               {K::kMapped, T::kIoNsec},
                                                               {K::kMapped, T::kTeeRamRx},
                                                               {K::kMapped, T::kTeeRamRo},
                                                               {K::kMapped, T::kTeeRamRw},
                                                               {K::kMapped, T::kTaRam},
                                                               {K::kMapped, T::kNsecShm},
                                                               {K::kOverallDdr, T::kDdrOverall},
                                                               {K::kNonSecureDdr, T::kRamNsec},
                                                               {K::kSecureDataPath, T::kSdpMem}}) {
    const std::string want = text(coverage(expected, kind, type));
    EXPECT_EQ(text(coverage(derived.regions, kind, type)), want)
        << mm::region_kind_name(kind) << " " << mm::memory_type_name(type);
    EXPECT_FALSE(want.empty());
  }
  // Devices: every one the built-in declares, of the same security; the tree has more (fw-cfg,
  // the flash banks, PCIe's ECAM), which the built-in leaves out.
  for (T type : {T::kIoSec, T::kIoNsec}) {
    const std::vector<host::Interval> have = coverage(derived.regions, K::kDeviceIo, type);
    const std::vector<host::Interval> want = coverage(expected, K::kDeviceIo, type);
    EXPECT_TRUE(host::interval_subtract(want, have).empty()) << mm::memory_type_name(type) << ": " << text(want);
  }
  EXPECT_EQ(text(coverage(derived.regions, K::kDeviceIo, T::kIoSec)),
            text({{0x0, 0x400'0000}, {builtin::kSecureGpioBase, builtin::kSecureGpioBase + 0x1000}}));
}

TEST(VirtTree, SameTablesAndWalksAsTheBuiltIn) {
  REQUIRE_VIRT_DTB();
  const host::DtPlatform derived = host::derive_platform(virt_tree(), virt_spec());
  tool::SessionOptions options;
  const tool::Session reference("qemu-virt", builtin_regions(), options);
  options.table_pages = tool::simulated_table_pages(derived);
  const tool::Session session("virt", derived.regions, options);
  ASSERT_TRUE(reference.ok()) << reference.error();
  ASSERT_TRUE(session.ok()) << session.error();

  const arm64::TableStatistics& a = reference.table().raw().statistics();
  const arm64::TableStatistics& b = session.table().raw().statistics();
  EXPECT_EQ(a.table_pages, b.table_pages);
  for (unsigned level = 0; level < 4; ++level) {
    EXPECT_EQ(a.tables[level], b.tables[level]) << level;
    EXPECT_EQ(a.leaves[level], b.leaves[level]) << level;
  }
  // The same entries (names aside) at the same VAs, and every walk alike.
  using Entry = std::tuple<mm::MemoryType, uint64_t, uint64_t, uint64_t>;
  std::vector<Entry> want, have;
  for (const mm::MapEntry& e : reference.map()) want.emplace_back(e.type, e.pa.value, e.va.value, e.size.bytes);
  for (const mm::MapEntry& e : session.map())
    have.emplace_back(e.type, e.is_va_reservation() ? 0 : e.pa.value, e.va.value, e.size.bytes);
  for (Entry& e : want)
    if (mm::type_attributes(std::get<0>(e)).placement == mm::Placement::kVaReservation) std::get<1>(e) = 0;
  std::sort(want.begin(), want.end());
  std::sort(have.begin(), have.end());
  EXPECT_EQ(want, have);
  size_t walks = 0;
  for (const mm::MapEntry& e : reference.map()) {
    for (uint64_t va = e.va.value; va < e.end_va().value; va += kPageSize) {
      const arm64::WalkResult x = reference.translate(va);
      const arm64::WalkResult y = session.translate(va);
      ASSERT_EQ(x.ok(), y.ok()) << tool::hex_address(va);
      ASSERT_EQ(x.output, y.output) << tool::hex_address(va);
      ASSERT_EQ(x.level, y.level) << tool::hex_address(va);
      ASSERT_EQ(x.descriptor, y.descriptor) << tool::hex_address(va);
      ++walks;
    }
  }
  EXPECT_GT(walks, 20000u);
}

TEST(VirtTree, LintFindsOnlyTheUnusedSecureMegabyteAndNoOpteeNode) {
  REQUIRE_VIRT_DTB();
  const tool::LintReport report = tool::lint_device_tree(virt_tree(), virt_spec(), tool::LintOptions{});
  EXPECT_EQ(report.count(tool::Severity::kError), 0u) << tool::render_lint_text(report);
  ASSERT_EQ(report.findings.size(), 2u) << tool::render_lint_text(report);
  EXPECT_EQ(report.findings[0].check, "unused");
  EXPECT_EQ(report.findings[0].subjects, std::vector<std::string>{"/secram@e000000"});
  EXPECT_NE(report.findings[0].message.find("1 MiB of secure memory at 0xe000000..0xe100000"), std::string::npos);
  EXPECT_EQ(report.findings[1].check, "optee");
  EXPECT_EQ(report.findings[1].severity, tool::Severity::kInfo);

  const tool::LintReport bare = tool::lint_device_tree(virt_tree(), host::PlatformSpec{}, tool::LintOptions{});
  EXPECT_EQ(bare.count(tool::Severity::kError), 0u) << tool::render_lint_text(bare);
  EXPECT_EQ(bare.count(tool::Severity::kWarning), 0u) << tool::render_lint_text(bare);
}

}  // namespace
