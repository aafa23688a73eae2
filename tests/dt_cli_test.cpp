// The device-tree side of the teemm CLI, run as a user runs it: map/dump/translate from --dts and
// --dtb, `teemm platform`, `teemm lint` on every fixture of tests/dt/lint, and the one-line errors.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "platform/host/device_tree.hpp"

namespace {

struct CliRun {
  int status;
  std::string out;
  std::string err;
};

CliRun run(const std::string& arguments) {
  const std::string err_file = ::testing::TempDir() + "teemm_dt_cli_stderr." + std::to_string(getpid()) + ".txt";
  const std::string command = std::string(TEEMM_CLI_PATH) + " " + arguments + " 2>" + err_file;
  CliRun result{};
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "", "popen failed"};
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (FILE* f = fopen(err_file.c_str(), "r")) {
    while ((n = fread(buffer.data(), 1, buffer.size(), f)) > 0) result.err.append(buffer.data(), n);
    fclose(f);
  }
  std::remove(err_file.c_str());
  return result;
}

std::string fixture(const std::string& name) {
  const std::string here = __FILE__;
  return here.substr(0, here.rfind('/')) + "/dt/" + name;
}

const std::string kClean = "--dts " + fixture("lint/clean.dts");
const std::string kSpec = "--platform-file " + fixture("lint/board.json");

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(DtCli, MapFromDeviceTreeSource) {
  const CliRun r = run("map " + kClean + " " + kSpec);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty());
  EXPECT_TRUE(contains(r.out, "teemm map: platform clean.dts, 39-bit VA")) << r.out;
  for (const char* name : {"tee-code", "tee-rodata", "tee-data", "ta-ram", "interrupt-controller@8000000",
                           "serial@9000000", "serial@9040000", "optee_shm@7fe00000", "shm-vaspace", "io-vaspace"})
    EXPECT_TRUE(contains(r.out, name)) << name;
  EXPECT_TRUE(contains(r.out, "serial@9040000   IO_SEC")) << r.out;
  EXPECT_TRUE(contains(r.out, "\ntables: ")) << r.out;
}

TEST(DtCli, MapJsonDumpAndTranslateFromTheTree) {
  const CliRun json = run("map --json " + kClean + " " + kSpec);
  ASSERT_EQ(json.status, 0) << json.err;
  const nlohmann::json doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc["platform"], "clean.dts");
  bool found = false;
  for (const auto& region : doc["regions"])
    if (region["name"] == "optee_shm@7fe00000") {
      found = true;
      EXPECT_EQ(region["type"], "NSEC_SHM");
      EXPECT_EQ(region["pa"], "0x00007fe00000");
      EXPECT_EQ(region["size"], 0x200000);
    }
  EXPECT_TRUE(found) << json.out;

  const CliRun walk = run("translate 0x7e000000 " + kClean + " " + kSpec);
  ASSERT_EQ(walk.status, 0) << walk.err;
  EXPECT_TRUE(contains(walk.out, "-> PA 0x00007e000000  level 3 page")) << walk.out;
  EXPECT_TRUE(contains(walk.out, "[tee-code]")) << walk.out;
  const CliRun uart = run("translate 0x9040000 --json " + kClean + " " + kSpec);
  ASSERT_EQ(uart.status, 0) << uart.err;
  EXPECT_EQ(nlohmann::json::parse(uart.out)["attrs"]["secure"], true);

  const CliRun dump = run("dump " + kClean + " " + kSpec);
  ASSERT_EQ(dump.status, 0) << dump.err;
  EXPECT_EQ(dump.out.rfind("root 0x", 0), 0u);
}

TEST(DtCli, DtbAndDtsGiveTheSameMap) {
  std::vector<char> blob;
  ASSERT_EQ(teemm::platform::host::compile_dts(fixture("lint/clean.dts"), &blob), "");
  const std::string dtb = ::testing::TempDir() + "teemm_clean_" + std::to_string(getpid()) + ".dtb";
  FILE* f = fopen(dtb.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  fwrite(blob.data(), 1, blob.size(), f);
  fclose(f);
  const CliRun from_dtb = run("map --dtb " + dtb + " " + kSpec);
  const CliRun from_dts = run("map " + kClean + " " + kSpec);
  std::remove(dtb.c_str());
  ASSERT_EQ(from_dtb.status, 0) << from_dtb.err;
  const auto body = [](const std::string& out) { return out.substr(out.find('\n')); };  // past the platform's name
  EXPECT_EQ(body(from_dtb.out), body(from_dts.out));
}

TEST(DtCli, WhatTheTreeCannotSayIsNamed) {
  const CliRun none = run("map " + kClean);
  EXPECT_EQ(none.status, 2);
  EXPECT_EQ(none.err,
            "teemm: the device tree does not say tee_ram, ta_ram, shm_vaspace: give --tee-ram PA,CODE,RODATA,DATA, "
            "--ta-ram PA,SIZE, --shm-vaspace SIZE (or the same members in --platform-file)\n");
  const CliRun some =
      run("platform " + kClean + " --tee-ram 0x7e000000,0x100000,0x100000,0x200000 --ta-ram 0x7e400000,0x800000");
  EXPECT_EQ(some.status, 2);
  EXPECT_EQ(some.err,
            "teemm: the device tree does not say shm_vaspace: give --shm-vaspace SIZE (or the same members in "
            "--platform-file)\n");
  EXPECT_TRUE(some.out.empty());
}

TEST(DtCli, OptionsOverrideThePlatformFile) {
  const CliRun r = run("map " + kClean + " " + kSpec + " --ta-ram 0x7e400000,0x400000 --shm-vaspace 0x800000");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "ta-ram           TA_RAM         0x00007e400000   0x00007e400000   4 MiB")) << r.out;
  EXPECT_TRUE(contains(r.out, "8 MiB      reserved VA")) << r.out;
}

TEST(DtCli, BadInputsAreOneLineErrorsWithTheRightStatus) {
  const std::string dir = fixture("");
  struct Case {
    std::string arguments;
    int status;
    std::string error;
  };
  const std::string bad_json = ::testing::TempDir() + "teemm_bad_" + std::to_string(getpid()) + ".json";
  const auto write = [&](const std::string& text) {
    FILE* f = fopen(bad_json.c_str(), "w");
    fputs(text.c_str(), f);
    fclose(f);
  };
  const std::vector<std::pair<std::string, Case>> cases = {
      {"",
       {"map --dts " + dir + "malformed/reg-length.dts " + kSpec, 1,
        dir + "malformed/reg-length.dts: /memory@40000000: reg is 12 bytes, not a multiple of 16 (#address-cells 2, "
              "#size-cells 2 in /)"}},
      {"",
       {"lint --dts " + dir + "malformed/size-cells-5.dts", 1,
        dir + "malformed/size-cells-5.dts: /soc: #size-cells is 5 (at most 4)"}},
      {"", {"map --dtb /nonexistent.dtb " + kSpec, 1, "/nonexistent.dtb: cannot open: No such file or directory"}},
      {"",
       {"map --dts " + dir + "lint/device-in-memory.dts " + kSpec, 1,
        "registration refused: region 'nsec-ddr@40000000': overlap with region 'sram@40001000'"}},
      {"",
       {"map " + kClean + " --tee-ram 1,2", 2, "invalid value for --tee-ram: '1,2' (expected PA,CODE,RODATA,DATA)"}},
      {"", {"map " + kClean + " " + kSpec + " --ta-ram 0x1000,0", 2, "--ta-ram: the size must not be zero"}},
      {"", {"map " + kClean + " " + kSpec + " --sdp 0xfffffffffffff000,0x2000", 2, "--sdp: the range wraps past 2^64"}},
      {"", {"map " + kClean + " " + kSpec + " --shm-vaspace 0x", 2, "--shm-vaspace: invalid number '0x'"}},
      {"",
       {"map --platform qemu-virt " + kClean, 2, "--platform and --dtb/--dts choose the platform both ways: give one"}},
      {"", {"map --tee-ram 1,2,3,4", 2, "--platform-file, --tee-ram and the like need --dtb or --dts"}},
      {"", {"map " + kClean + " --dtb x.dtb " + kSpec, 2, "give one device tree: --dtb or --dts, not both"}},
      {"", {"lint", 2, "give the device tree: --dtb FILE or --dts FILE"}},
      {"{\"tee\": 1}",
       {"map " + kClean + " --platform-file " + bad_json, 2,
        bad_json + ": unknown member 'tee' (tee_ram, ta_ram, shm_vaspace, io_vaspace, nsec_shm, sdp, comment)"}},
      {"{\"ta_ram\": {\"pa\": 4096}}",
       {"map " + kClean + " --platform-file " + bad_json, 2, bad_json + ": ta_ram: missing member 'size'"}},
      {"{\"ta_ram\": {\"pa\": \"0x1000\", \"size\": -1}}",
       {"map " + kClean + " --platform-file " + bad_json, 2,
        bad_json + ": ta_ram.size: expected a number (an unsigned integer, or a string such as \"0x200000\")"}},
      {"{\"shm_vaspace\": \"4 MiB\"}",
       {"map " + kClean + " --platform-file " + bad_json, 2, bad_json + ": shm_vaspace: invalid number '4 MiB'"}},
      {"{\"shm_vaspace\": ", {"map " + kClean + " --platform-file " + bad_json, 2, bad_json + ": invalid JSON: "}},
  };
  for (const auto& [json, c] : cases) {
    if (!json.empty()) write(json);
    const CliRun r = run(c.arguments);
    EXPECT_EQ(r.status, c.status) << c.arguments << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("teemm: " + c.error, 0), 0u) << c.arguments << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  std::remove(bad_json.c_str());
}

TEST(DtCli, PlatformPrintsTheRegionTableTheLibraryTakes) {
  const CliRun r = run("platform " + kClean + " " + kSpec);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "namespace teemm::platform::clean {")) << r.out;
  EXPECT_TRUE(contains(r.out, "inline constexpr mm::Region kRegions[] = {")) << r.out;
  EXPECT_TRUE(contains(r.out,
                       "    mm::mapped_region(\"tee-code\", mm::MemoryType::kTeeRamRx, 0x7e00'0000, "
                       "0x0010'0000),  // tee_ram (code)\n"))
      << r.out;
  EXPECT_TRUE(contains(r.out,
                       "    mm::mapped_region(\"serial@9040000\", mm::MemoryType::kIoSec, 0x0904'0000, "
                       "0x1000),  // /serial@9040000 reg[0]\n"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "    mm::device_region(\"rtc@9010000\", mm::MemoryType::kIoNsec, 0x0901'0000, 0x1000),"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "    mm::va_reservation(\"shm-vaspace\", mm::MemoryType::kShmVaspace, 0x0400'0000),"));
  EXPECT_TRUE(contains(r.out, "    mm::sdp_region(\"sdp\", 0x7ec0'0000, 0x0040'0000),"));
  EXPECT_TRUE(contains(r.out, "    mm::nsec_ddr_region(\"nsec-ddr@40000000\", 0x4000'0000, 0x3e00'0000),"));
  EXPECT_TRUE(contains(r.out, "    mm::ddr_region(\"memory@40000000\", 0x4000'0000, 0x8000'0000),"));
  EXPECT_TRUE(contains(r.out, "static_assert(mm::validate_regions(kRegions, kRegionCount).ok()"));
  EXPECT_TRUE(contains(r.out, "// by `teemm platform --dts ")) << r.out;

  const CliRun refused = run("platform --dts " + fixture("lint/shared-page.dts") + " " + kSpec);
  EXPECT_EQ(refused.status, 1);
  EXPECT_TRUE(contains(refused.err,
                       "the derived platform is refused: region 'timer@9050100': overlap with region "
                       "'keys@9050000' (teemm lint says more)"))
      << refused.err;
}

struct LintCase {
  const char* fixture;
  const char* extra;  // more options
  int status;
  const char* severity;
  const char* check;
  const char* subject;  // one of the finding's subjects ("" for none)
  const char* message;  // part of its message
};

class DtLint : public ::testing::TestWithParam<LintCase> {};

TEST_P(DtLint, NamesWhatIsWrong) {
  const LintCase& c = GetParam();
  const CliRun r =
      run(std::string("lint --json --dts ") + fixture(std::string("lint/") + c.fixture) + " " + kSpec + " " + c.extra);
  ASSERT_EQ(r.status, c.status) << r.err << r.out;
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["source"], c.fixture);
  EXPECT_EQ(doc["model"], "teemm lint board");
  EXPECT_EQ(doc["errors"].get<int>() > 0, c.status == 1);
  bool found = false;
  for (const auto& f : doc["findings"]) {
    if (f["severity"] != c.severity || f["check"] != c.check) continue;
    if (!contains(f["message"].get<std::string>(), c.message)) continue;
    bool subject = std::string(c.subject).empty();
    for (const auto& s : f["subjects"]) subject = subject || s == c.subject;
    found = found || subject;
  }
  EXPECT_TRUE(found) << r.out;
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, DtLint,
    ::testing::Values(
        LintCase{"device-in-memory.dts", "", 1, "error", "conflict", "sram@40001000",
                 "device sram@40001000 (IO_NSEC) lies in memory memory@40000000 (DDR_OVERALL)"},
        LintCase{"shared-page.dts", "", 1, "error", "conflict", "keys@9050000",
                 "share the page(s) 0x9050000..0x9051000 (4 KiB): a page has one security"},
        LintCase{
            "misaligned-device.dts", "", 1, "error", "conflict", "serial@8010800",
            "interrupt-controller@8000000[1] (IO_SEC) and serial@8010800 (IO_NSEC) overlap with different security"},
        LintCase{
            "secure-memory-exposed.dts", "", 1, "error", "secure-exposed", "/secram@50000000",
            "secure-only memory 0x50000000..0x51000000 (16 MiB) is also in a memory node the normal world may use"},
        LintCase{"optee-without-no-map.dts", "", 1, "error", "secure-exposed", "/reserved-memory/optee_core@7e000000",
                 "OP-TEE's carve-out 0x7e000000..0x7f000000 (16 MiB) has no no-map"},
        LintCase{"clean.dts", "--tee-ram 0x50000000,0x100000,0x100000,0x200000", 1, "error", "secure-exposed",
                 "tee_ram",
                 "TEE RAM 0x50000000..0x50400000 (4 MiB): 4 MiB of it lie in memory the normal world may use"},
        LintCase{"shm-over-secure.dts", "", 1, "error", "secure-exposed", "/reserved-memory/optee_shm@7fe00000",
                 "static shared memory 0x7ef00000..0x7f100000 (2 MiB) overlaps secure memory"},
        LintCase{"clean.dts", "--nsec-shm 0x7e800000,0x200000", 1, "error", "conflict", "nsec-shm",
                 "ta-ram (TA_RAM) overlaps nsec-shm (NSEC_SHM)"},
        LintCase{"clean.dts", "--tee-ram 0x9000000,0x100000,0x100000,0x200000", 1, "warning", "placement", "tee_ram",
                 "lie in no memory node or reservation the tree describes"},
        LintCase{"misaligned-shm.dts", "", 0, "warning", "alignment", "optee_shm@7fe00000",
                 "at PA 0x7f100000 is not 2 MiB aligned: mapped with 1 2 MiB block + 512 4 KiB pages where 2 2 MiB "
                 "blocks would do; it costs 2 table pages (8 KiB)"},
        LintCase{"clean.dts", "--ta-ram 0x7e500000,0x600000 --sdp 0x7eb00000,0x500000", 0, "warning", "alignment",
                 "ta-ram", "not 2 MiB aligned"},
        LintCase{"gic-redistributor-misaligned.dts", "", 0, "info", "alignment", "interrupt-controller@8000000[1]",
                 "(IO_SEC, 2 MiB) at PA 0x8100000 is not 2 MiB aligned: mapped with 512 4 KiB pages where 1 2 MiB "
                 "block would do; it costs 1 table page (4 KiB)"},
        LintCase{"beyond-pa.dts", "", 1, "error", "pa-range", "serial@10000000000",
                 "reaches beyond the 40-bit physical address range TCR.IPS allows: the tables cannot map it"},
        LintCase{"beyond-pa.dts", "", 1, "warning", "pa-range", "nsec-ddr@20000000000",
                 "its pages cannot become shared memory"},
        LintCase{"clean.dts", "--ta-ram 0x7e400000,0x400000", 0, "warning", "unused",
                 "/reserved-memory/optee_core@7e000000",
                 "4 MiB of secure memory at 0x7e800000..0x7ec00000 (4 MiB) is neither TEE RAM, TA RAM nor SDP"},
        LintCase{"reserved-outside-memory.dts", "", 0, "warning", "reserved", "/reserved-memory/firmware@10000000",
                 "reserves 1 MiB that no memory node describes"},
        LintCase{"reserved-overlap.dts", "", 0, "warning", "reserved", "/reserved-memory/ramoops@7fd00000",
                 "reservations overlap: 0x7fe00000..0x7ff00000 (1 MiB)"},
        LintCase{"memory-unaligned.dts", "", 0, "warning", "memory", "/memory@100000800",
                 "is not page aligned: 4 KiB at its edges are left out"},
        LintCase{"memory-twice.dts", "", 0, "warning", "memory", "/memory@80000000",
                 "memory described twice: 0x80000000..0x90000000 (256 MiB)"},
        LintCase{"no-gic-no-uart.dts", "", 0, "warning", "devices", "", "no enabled GIC"},
        LintCase{"no-gic-no-uart.dts", "", 0, "warning", "devices", "", "no enabled UART: the TEE has no console"},
        LintCase{"optee-method.dts", "", 0, "warning", "optee", "/firmware/optee", "method is \"mmio\""},
        LintCase{"no-secure-memory.dts", "", 1, "warning", "optee", "", "the tree shows no secure memory"},
        LintCase{"reserved-without-ranges.dts", "", 1, "error", "tree", "/reserved-memory", "no ranges property"},
        LintCase{"reg-outside-ranges.dts", "", 0, "warning", "tree", "/bus@20000000/timer@200000",
                 "lies outside the ranges of /bus@20000000"},
        LintCase{"clean.dts", "--va-bits 30", 1, "error", "layout", "", "layout refused: region '"}),
    [](const ::testing::TestParamInfo<LintCase>& info) { return "case" + std::to_string(info.index); });

TEST(DtCli, LintOfTheCleanBoardIsQuiet) {
  const CliRun r = run("lint " + kClean + " " + kSpec);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "teemm lint: clean.dts (teemm lint board): 0 errors, 0 warnings, 0 notes\n");
  const CliRun partial = run("lint " + kClean);
  EXPECT_EQ(partial.status, 0) << partial.err;
  EXPECT_TRUE(contains(partial.out, "info    [spec] not given: tee_ram, ta_ram, shm_vaspace")) << partial.out;
  const CliRun text = run("lint --dts " + fixture("lint/shared-page.dts") + " " + kSpec);
  EXPECT_EQ(text.status, 1);
  EXPECT_TRUE(contains(text.out, "0 errors") == false);
  EXPECT_TRUE(contains(text.out, "\nerror   [conflict] ")) << text.out;
}

TEST(DtCli, HelpNamesTheNewCommands) {
  const CliRun r = run("--help");
  ASSERT_EQ(r.status, 0);
  EXPECT_TRUE(contains(r.out, "platform")) << r.out;
  EXPECT_TRUE(contains(r.out, "lint")) << r.out;
  const CliRun lint = run("help lint");
  ASSERT_EQ(lint.status, 0) << lint.err;
  for (const char* option : {"--dtb", "--dts", "--platform-file", "--tee-ram", "--json", "--va-bits"})
    EXPECT_TRUE(contains(lint.out, option)) << option;
  const CliRun map = run("map --help");
  for (const char* option : {"--dtb", "--dts", "--platform-file", "--ta-ram", "--shm-vaspace"})
    EXPECT_TRUE(contains(map.out, option)) << option;
}

}  // namespace

namespace {

TEST(DtCli, MapSvgWritesThePictureBesideTheUsualOutput) {
  const std::string svg = ::testing::TempDir() + "teemm_cli_" + std::to_string(getpid()) + ".svg";
  const CliRun r = run("map " + kClean + " " + kSpec + " --svg " + svg);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "teemm map: platform clean.dts")) << r.out;
  FILE* f = fopen(svg.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string text(4096, '\0');
  text.resize(fread(text.data(), 1, text.size(), f));
  fclose(f);
  std::remove(svg.c_str());
  EXPECT_EQ(text.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_TRUE(contains(text, "teemm map: platform clean.dts")) << text;

  const CliRun bad = run("map --svg /nonexistent/dir/x.svg");
  EXPECT_EQ(bad.status, 1);
  EXPECT_EQ(bad.err, "teemm: --svg /nonexistent/dir/x.svg: cannot write\n");
}

}  // namespace
