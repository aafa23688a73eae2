// The device-tree reader: what it reads from a board that uses every feature, and a clear error
// naming the node (never a crash) for every malformed tree in tests/dt/malformed and for broken blobs.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "platform/host/device_tree.hpp"

namespace {

using namespace teemm::platform::host;

std::string fixture(const std::string& name) {
  const std::string here = __FILE__;
  return here.substr(0, here.rfind('/')) + "/dt/" + name;
}

std::vector<char> compiled(const std::string& name) {
  std::vector<char> blob;
  const std::string error = compile_dts(fixture(name), &blob);
  EXPECT_EQ(error, "");
  return blob;
}

const DtDevice* device(const DeviceTree& tree, const std::string& node, unsigned index = 0) {
  for (const DtDevice& d : tree.devices)
    if (d.node == node && d.index == index) return &d;
  return nullptr;
}

bool has_note(const DeviceTree& tree, const std::string& node, const std::string& part) {
  for (const DtNote& n : tree.notes)
    if (n.node == node && n.text.find(part) != std::string::npos) return true;
  return false;
}

TEST(DtReader, ReadsTheBoardFixture) {
  const DtReadResult r = read_dts_file(fixture("reader/board.dts"));
  ASSERT_TRUE(r.ok()) << r.error;
  const DeviceTree& t = r.tree;
  EXPECT_EQ(t.model, "teemm reader board");
  EXPECT_EQ(t.node_count, 30u);

  // Memory: several nodes, several reg entries, a secure-only one; the disabled one left out.
  ASSERT_EQ(t.memory.size(), 4u);
  EXPECT_EQ(t.memory[0].node, "/memory@40000000");
  EXPECT_EQ(t.memory[0].range.base, 0x4000'0000u);
  EXPECT_EQ(t.memory[0].range.size, 0x4000'0000u);
  EXPECT_EQ(t.memory[1].index, 1u);
  EXPECT_EQ(t.memory[1].range.base, 0x8'8000'0000u);
  EXPECT_EQ(t.memory[2].range.base, 0x1'0000'0000u);
  EXPECT_EQ(t.memory[3].node, "/secmem@e000000");
  EXPECT_TRUE(t.memory[3].availability.secure_only());
  EXPECT_TRUE(t.memory[0].availability.secure && t.memory[0].availability.non_secure);
  EXPECT_TRUE(has_note(t, "/gone@f000000", "disabled for both worlds"));

  // Reservations: roles, no-map, secure-status; the dynamic one noted.
  ASSERT_EQ(t.reserved.size(), 4u);
  EXPECT_EQ(t.reserved[0].role, ReservedRole::kOpteeCore);
  EXPECT_TRUE(t.reserved[0].no_map);
  EXPECT_EQ(t.reserved[1].role, ReservedRole::kOpteeShm);
  EXPECT_EQ(t.reserved[2].role, ReservedRole::kOther);
  EXPECT_FALSE(t.reserved[2].no_map);
  EXPECT_TRUE(t.reserved[3].availability.secure_only());
  EXPECT_TRUE(has_note(t, "/reserved-memory/linux,cma", "dynamic reservation"));
  EXPECT_TRUE(t.reserved_memory_node);

  EXPECT_EQ(t.optee_node, "/firmware/optee");
  EXPECT_EQ(t.optee_method, "smc");

  // GICv3: the distributor and both redistributor regions face the CPU; the GICC frame after them does not.
  for (unsigned i = 0; i < 4; ++i) {
    const DtDevice* gic = device(t, "/interrupt-controller@8000000", i);
    ASSERT_NE(gic, nullptr) << i;
    EXPECT_EQ(gic->device_class, DeviceClass::kGic);
    EXPECT_EQ(gic->gic_cpu_facing, i < 3) << i;
  }
  // Translated through the soc bus's ranges (both entries) and, for the gpio, a second bus too.
  const DtDevice* uart = device(t, "/soc@10000000/serial@10000");
  ASSERT_NE(uart, nullptr);
  EXPECT_EQ(uart->range.base, 0x1001'0000u);
  EXPECT_EQ(uart->range.size, 0x100u);
  EXPECT_EQ(uart->device_class, DeviceClass::kUart);
  const DtDevice* secure_uart = device(t, "/soc@10000000/serial@11000");
  ASSERT_NE(secure_uart, nullptr);
  EXPECT_TRUE(secure_uart->availability.secure_only());
  EXPECT_EQ(secure_uart->device_class, DeviceClass::kUart);
  const DtDevice* timer = device(t, "/soc@10000000/timer@80000000");
  ASSERT_NE(timer, nullptr);
  EXPECT_EQ(timer->range.base, 0x1'8000'0000u);
  const DtDevice* gpio = device(t, "/soc@10000000/bus@200000/gpio@4000");
  ASSERT_NE(gpio, nullptr);
  EXPECT_EQ(gpio->range.base, 0x1020'4000u);
  EXPECT_EQ(gpio->device_class, DeviceClass::kOther);

  // Outside the bus's ranges: noted, not a device. Behind a bus without ranges (I2C) or under
  // /cpus: no CPU address. Under a disabled bus: disabled too.
  EXPECT_EQ(device(t, "/soc@10000000/outside@2000000"), nullptr);
  EXPECT_TRUE(has_note(t, "/soc@10000000/outside@2000000", "outside the ranges of /soc@10000000"));
  EXPECT_EQ(device(t, "/soc@10000000/i2c@300000/eeprom@50"), nullptr);
  EXPECT_NE(device(t, "/soc@10000000/i2c@300000"), nullptr);
  EXPECT_EQ(device(t, "/cpus/cpu@0"), nullptr);
  EXPECT_EQ(device(t, "/soc@10000000/disabled-bus@400000/serial@400000"), nullptr);
  // A GIC's parts (an ITS) and PCI functions (config-space reg) are no devices; the host bridge is.
  EXPECT_EQ(device(t, "/interrupt-controller@8000000/msi-controller@8020000"), nullptr);
  EXPECT_EQ(device(t, "/pcie@30000000/ethernet@0,0"), nullptr);
  EXPECT_NE(device(t, "/pcie@30000000"), nullptr);
  EXPECT_TRUE(t.notes.size() == 3u);
  EXPECT_EQ(t.devices.size(), 10u);
}

struct Malformed {
  const char* file;
  const char* node;
  const char* message;
};

class DtMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(DtMalformed, IsAClearErrorNamingTheNode) {
  const Malformed& m = GetParam();
  const DtReadResult r = read_dts_file(fixture(std::string("malformed/") + m.file));
  ASSERT_FALSE(r.ok());
  const std::string expected = fixture(std::string("malformed/") + m.file) + ": " + m.node + ": ";
  EXPECT_EQ(r.error.rfind(expected, 0), 0u) << r.error;
  EXPECT_NE(r.error.find(m.message), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find('\n'), std::string::npos);
  EXPECT_TRUE(r.tree.memory.empty() && r.tree.devices.empty());  // nothing half-read
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, DtMalformed,
    ::testing::Values(
        Malformed{"address-cells-0.dts", "/memory@0", "reg needs #address-cells and #size-cells of at least 1"},
        Malformed{"size-cells-0.dts", "/soc/serial@9000000", "(#address-cells 1, #size-cells 0 in /soc)"},
        Malformed{"size-cells-5.dts", "/soc", "#size-cells is 5 (at most 4)"},
        Malformed{"cells-not-one-cell.dts", "/", "#address-cells is 8 bytes, not one cell"},
        Malformed{"reg-length.dts", "/memory@40000000", "reg is 12 bytes, not a multiple of 16"},
        Malformed{"size-wraps.dts", "/memory@fffffffffffff000", "reg[0] 0xfffffffffffff000 + 0x2000 wraps past 2^64"},
        Malformed{"size-too-large.dts", "/memory@0", "size 0x10000000000000000 does not fit in 64 bits"},
        Malformed{"address-too-large.dts", "/serial@100000000000000000000", "does not fit in 64 bits"},
        Malformed{"ranges-length.dts", "/soc", "ranges is 20 bytes, not a multiple of 16"},
        Malformed{"not-a-string.dts", "/serial@9000000", "compatible is not a list of NUL-terminated strings"},
        Malformed{"deep.dts", "/n0/n1/n2/...(59 more).../n62/n63/n64", "nested deeper than 64 levels"}),
    [](const ::testing::TestParamInfo<Malformed>& info) {
      std::string name = info.param.file;
      name = name.substr(0, name.find('.'));
      for (char& c : name)
        if (c == '-') c = '_';
      return name;
    });

uint32_t be32(const std::vector<char>& blob, size_t at) {
  uint32_t v = 0;
  std::memcpy(&v, blob.data() + at, 4);
  return __builtin_bswap32(v);
}
void put_be32(std::vector<char>* blob, size_t at, uint32_t value) {
  const uint32_t v = __builtin_bswap32(value);
  std::memcpy(blob->data() + at, &v, 4);
}

TEST(DtReaderBlob, BadMagicIsNamed) {
  std::vector<char> blob = compiled("reader/board.dts");
  put_be32(&blob, 0, 0x12345678);
  const DtReadResult r = read_device_tree(blob.data(), blob.size(), "x.dtb");
  EXPECT_EQ(r.error, "x.dtb: bad magic 0x12345678 (a flattened device tree starts with 0xd00dfeed)");
}

TEST(DtReaderBlob, EveryTruncationIsAnError) {
  const std::vector<char> blob = compiled("reader/board.dts");
  ASSERT_EQ(be32(blob, 4), blob.size());  // totalsize
  for (size_t size = 0; size < blob.size(); ++size) {
    const std::vector<char> cut(blob.begin(), blob.begin() + static_cast<std::ptrdiff_t>(size));
    const DtReadResult r = read_device_tree(cut.data(), cut.size(), "cut.dtb");
    ASSERT_FALSE(r.ok()) << size;
    ASSERT_EQ(r.error.rfind("cut.dtb: ", 0), 0u) << r.error;
  }
  const DtReadResult whole = read_device_tree(blob.data(), blob.size(), "whole.dtb");
  EXPECT_TRUE(whole.ok()) << whole.error;
  const std::vector<char> cut(blob.begin(), blob.begin() + 100);
  EXPECT_EQ(read_device_tree(cut.data(), cut.size(), "t.dtb").error,
            "t.dtb: truncated: the header says " + std::to_string(blob.size()) + " bytes, the file has 100");
  EXPECT_EQ(read_device_tree(blob.data(), 3, "t.dtb").error,
            "t.dtb: not a flattened device tree: 3 bytes, too short for a header");
}

TEST(DtReaderBlob, ABrokenStructureBlockIsAnError) {
  std::vector<char> blob = compiled("reader/board.dts");
  const uint32_t structure = be32(blob, 8);
  put_be32(&blob, structure, 0x00000009);  // FDT_END where the root's FDT_BEGIN_NODE was
  const DtReadResult r = read_device_tree(blob.data(), blob.size(), "b.dtb");
  EXPECT_EQ(r.error, "b.dtb: malformed flattened device tree: no root node");
  put_be32(&blob, structure, 0x00000001);             // the root again
  ASSERT_EQ(be32(blob, structure + 8), 0x00000003u);  // its first property
  put_be32(&blob, structure + 16, 0xffffff00);        // whose name lies far outside the strings block
  const DtReadResult broken = read_device_tree(blob.data(), blob.size(), "b.dtb");
  EXPECT_EQ(broken.error.rfind("b.dtb: malformed flattened device tree: ", 0), 0u) << broken.error;
}

TEST(DtReaderBlob, CorruptedBytesNeverCrash) {
  const std::vector<char> blob = compiled("reader/board.dts");
  std::mt19937_64 random(7);
  size_t refused = 0;
  for (int round = 0; round < 3000; ++round) {
    std::vector<char> copy = blob;
    const int flips = 1 + static_cast<int>(random() % 4);
    for (int i = 0; i < flips; ++i) copy[random() % copy.size()] = static_cast<char>(random());
    const DtReadResult r = read_device_tree(copy.data(), copy.size(), "c.dtb");
    if (!r.ok()) {
      ++refused;
      EXPECT_EQ(r.error.find('\n'), std::string::npos);
      continue;
    }
    for (const DtMemory& m : r.tree.memory) EXPECT_LE(m.range.size - 1, UINT64_MAX - m.range.base);
    for (const DtDevice& d : r.tree.devices) EXPECT_LE(d.range.size - 1, UINT64_MAX - d.range.base);
  }
  EXPECT_GT(refused, 0u);
}

TEST(DtReaderFiles, MissingFilesAndDtcErrorsAreOneLine) {
  EXPECT_EQ(read_dtb_file("/nonexistent/x.dtb").error, "/nonexistent/x.dtb: cannot open: No such file or directory");
  EXPECT_EQ(read_dts_file("/nonexistent/x.dts").error, "/nonexistent/x.dts: cannot open: No such file or directory");
  const std::string path = ::testing::TempDir() + "teemm_bad_syntax.dts";
  std::ofstream(path) << "/dts-v1/;\n/ { broken\n";
  const DtReadResult r = read_dts_file(path);
  EXPECT_EQ(r.error.rfind(path + ": dtc refused it: ", 0), 0u) << r.error;
  EXPECT_EQ(r.error.find('\n'), std::string::npos);
  std::remove(path.c_str());
}

TEST(DtReaderFiles, OneCellRootAndStringsOnly) {
  const std::string path = ::testing::TempDir() + "teemm_one_cell.dts";
  std::ofstream(path) << "/dts-v1/;\n/ { #address-cells = <1>; #size-cells = <1>; compatible = \"a,b\";\n"
                         "memory@80000000 { device_type = \"memory\"; reg = <0x80000000 0x40000000 0xc0000000 "
                         "0x1000>; };\n serial@1000 { compatible = \"arm,pl011\"; reg = <0x1000 0x1000>; }; };\n";
  const DtReadResult r = read_dts_file(path);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.tree.model, "a,b");  // no /model: the first compatible string
  ASSERT_EQ(r.tree.memory.size(), 2u);
  EXPECT_EQ(r.tree.memory[1].range.base, 0xc000'0000u);
  ASSERT_EQ(r.tree.devices.size(), 1u);
  EXPECT_EQ(r.tree.devices[0].device_class, DeviceClass::kUart);
  std::remove(path.c_str());
}

}  // namespace

namespace {

TEST(DtReaderFiles, TooManyEntriesIsAnErrorNotAnHour) {
  const std::string path = ::testing::TempDir() + "teemm_many_entries.dts";
  {
    std::ofstream out(path);
    out << "/dts-v1/;\n/ { #address-cells = <1>; #size-cells = <1>;\n memory@0 { device_type = \"memory\"; reg = <";
    for (size_t i = 0; i <= kMaxEntries; ++i) out << (i == 0 ? "" : " ") << "0x" << std::hex << i * 0x1000 << " 0x1000";
    out << ">; }; };\n";
  }
  const DtReadResult r = read_dts_file(path);
  EXPECT_EQ(r.error, path + ": /memory@0: more than 8192 reg and ranges entries in the tree");
  std::remove(path.c_str());
}

}  // namespace
