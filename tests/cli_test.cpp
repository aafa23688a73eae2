// The teemm command-line tool, run as a user runs it: output shapes, JSON fields, exit statuses
// and the one-line error on stderr.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <array>
#include <cstdio>
#include <string>

namespace {

struct CliRun {
  int status;
  std::string out;
  std::string err;
};

CliRun run(const std::string& arguments) {
  // One file per process: CTest runs these tests in parallel processes.
  const std::string err_file = ::testing::TempDir() + "teemm_cli_stderr." + std::to_string(getpid()) + ".txt";
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

int count_lines(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

TEST(Cli, MapPrintsEveryRegionAndTheTableSummary) {
  const CliRun r = run("map");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* name : {"tee-code", "tee-rodata", "tee-data", "ta-ram", "gic", "uart0", "secure-uart", "nsec-shm",
                           "shm-vaspace", "io-vaspace"})
    EXPECT_NE(r.out.find(name), std::string::npos) << name;
  EXPECT_NE(r.out.find("TEE_RAM_RX"), std::string::npos);
  EXPECT_NE(r.out.find("tables: 7 pages"), std::string::npos);
  EXPECT_NE(r.out.find("level 3: 4 tables, 0 table descriptors, 802 pages"), std::string::npos);
  EXPECT_TRUE(r.err.empty());
}

TEST(Cli, MapJsonHasTheDocumentedFields) {
  const CliRun r = run("map --json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"regions\": ["), std::string::npos);
  EXPECT_NE(r.out.find("{\"name\": \"tee-code\", \"type\": \"TEE_RAM_RX\", \"pa\": \"0x00000e100000\", \"va\": "
                       "\"0x00000e100000\", \"size\": 1048576, \"attrs\": {\"secure\": true, \"privileged\": \"r-x\", "
                       "\"memory\": \"normal-wb\", \"mapped\": true}}"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"pa\": null"), std::string::npos);  // reservations have no PA
  EXPECT_NE(r.out.find("\"tables\": {\"pages\": 7"), std::string::npos);
  EXPECT_NE(r.out.find("{\"level\": 2, \"tables\": 2, \"table_descriptors\": 4, \"blocks\": 5}"), std::string::npos);
}

TEST(Cli, TranslateAnswersWithPaOrFault) {
  CliRun r = run("translate 0x0e200010 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"va\": \"0x00000e200010\", \"pa\": \"0x00000e200010\", \"level\": 3"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"privileged\": \"r--\""), std::string::npos);
  r = run("translate 0x42000000 --json");
  EXPECT_NE(r.out.find("\"level\": 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"secure\": false"), std::string::npos) << r.out;
  r = run("translate 0x1000 --json");
  ASSERT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("\"fault\": {\"kind\": \"translation\", \"level\": 2}"), std::string::npos) << r.out;
  r = run("translate 0x8000000000 --json");
  EXPECT_NE(r.out.find("\"kind\": \"translation\", \"level\": 0"), std::string::npos) << r.out;
  r = run("translate 0x9000000");
  EXPECT_NE(r.out.find("-> PA 0x000009000000  level 3 page (4 KiB)  non-secure P:rw- U:--- device  [uart0]"),
            std::string::npos)
      << r.out;
}

TEST(Cli, DynamicMappingsShowInMapAndTranslate) {
  CliRun r = run("map --shm 0x40000000,3 --shm 0x40400000,1024 --ioremap 0x0a000010,0x100");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("reserved VA: 4.0 MiB in use, 2 ranges"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reserved VA: 8 KiB in use, 1 ranges"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("shm   VA 0x00000ee00000  size 4 MiB      PA 0x000040400000  owner 1  + guard page"),
            std::string::npos)
      << r.out;
  r = run("translate 0xee00000 --json --shm 0x40000000,3 --shm 0x40400000,1024");
  EXPECT_NE(r.out.find("\"pa\": \"0x000040400000\", \"level\": 2"), std::string::npos) << r.out;  // a block
  r = run("translate 0xec03000 --json --shm 0x40000000,3");
  EXPECT_NE(r.out.find("\"fault\""), std::string::npos) << r.out;  // the guard page
  r = run("map --json --shm 0x40000000,2");
  EXPECT_NE(r.out.find("\"attrs\": {\"mapped\": false, \"in_use\": 12288, \"ranges\": 1}"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("{\"kind\": \"shm\", \"va\": \"0x00000ec00000\", \"size\": 8192"), std::string::npos) << r.out;
  r = run("map --shm 0x40000800,2");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "teemm: shared memory at PA 0x40000800: misaligned\n");
  r = run("map --ioremap 0x1000");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "teemm: invalid value for --ioremap: '0x1000' (expected PA,SIZE[,secure])\n");
}

TEST(Cli, DumpShowsEveryDescriptor) {
  const CliRun r = run("dump");
  ASSERT_EQ(r.status, 0) << r.err;
  // 802 pages + 5 blocks + 6 table descriptors + the header line.
  EXPECT_EQ(count_lines(r.out), 802 + 5 + 6 + 1);
}

TEST(Cli, VaOffsetAndVaBitsChangeTheLayout) {
  CliRun r = run("translate 0x400e100000 --va-offset 0x4000000000 --va-bits 40 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"pa\": \"0x00000e100000\""), std::string::npos) << r.out;
  r = run("map --va-bits 28");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "teemm: layout refused: region 'nsec-shm': address overflow\n");
}

TEST(Cli, ErrorsAreOneLineOnStderrWithNonZeroStatus) {
  const struct {
    const char* arguments;
    int status;
    const char* message;
  } cases[] = {
      {"", 2, nullptr},
      {"frobnicate", 2, "teemm: unknown command 'frobnicate' (see teemm --help)\n"},
      {"map --platform nosuch", 2, "teemm: unknown platform 'nosuch' (built in: qemu-virt)\n"},
      {"map --va-bits 60", 2, "teemm: --va-bits must be between 25 and 48\n"},
      {"map --va-bits", 2, "teemm: --va-bits needs a value\n"},
      {"map --va-offset zz", 2, "teemm: invalid number for --va-offset: 'zz'\n"},
      {"map --bogus", 2, "teemm: unknown option '--bogus' (see teemm --help)\n"},
      {"translate", 2, "teemm: translate takes exactly one virtual address\n"},
      {"translate 0xZZ", 2, "teemm: invalid virtual address '0xZZ'\n"},
      {"translate -5", 2, "teemm: invalid virtual address '-5'\n"},
      {"map extra", 2, "teemm: unexpected argument 'extra'\n"},
      {"map --va-offset 0x800", 2, "teemm: --va-offset must be a multiple of 4 KiB\n"},
      {"map --va-offset 0xfffffffffffff000", 1, "teemm: layout refused: region 'gic': address overflow\n"},
  };
  for (const auto& c : cases) {
    const CliRun r = run(c.arguments);
    EXPECT_EQ(r.status, c.status) << c.arguments;
    if (c.message != nullptr) {
      EXPECT_EQ(r.err, c.message) << c.arguments;
    }
    EXPECT_TRUE(r.out.empty()) << c.arguments;
  }
  const CliRun help = run("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("usage: teemm"), std::string::npos);
}

}  // namespace
