// The teemm command-line tool, run as a user runs it: output shapes, JSON fields, exit statuses
// and the one-line error on stderr.
#include <gtest/gtest.h>

#include "support/cli_run.hpp"

#include <sys/wait.h>
#include <unistd.h>
#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "number.hpp"

namespace {

using teemm::testing::CliRun;

CliRun run(const std::string& arguments) { return teemm::testing::run_cli(arguments); }

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

// Keys of a JSON object, in the order they were printed.
std::vector<std::string> keys_of(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

bool is_hex_address(const nlohmann::ordered_json& value) {
  if (!value.is_string()) return false;
  const std::string text = value.get<std::string>();
  return text.size() >= 14 && text.rfind("0x", 0) == 0 &&
         text.find_first_not_of("0123456789abcdef", 2) == std::string::npos;
}

TEST(Cli, JsonIsJsonWithHexAddressesAndFieldsInOrder) {
  CliRun r = run("map --json --shm 0x40400000,3 --ioremap 0x0a000000,0x200");
  ASSERT_EQ(r.status, 0) << r.err;
  auto map = nlohmann::ordered_json::parse(r.out);  // not const: a missing key reads as null
  EXPECT_EQ(keys_of(map),
            (std::vector<std::string>{"platform", "va_bits", "va_offset", "regions", "dynamic", "tables"}));
  EXPECT_EQ(map["va_bits"], 39);
  EXPECT_TRUE(is_hex_address(map["va_offset"]));
  ASSERT_EQ(map["regions"].size(), 10u);
  for (auto& region : map["regions"]) {
    EXPECT_EQ(keys_of(region), (std::vector<std::string>{"name", "type", "pa", "va", "size", "attrs"})) << region;
    EXPECT_TRUE(region["pa"].is_null() || is_hex_address(region["pa"])) << region;
    EXPECT_EQ(region["pa"].is_null(), region["attrs"]["mapped"] == false) << region;
    EXPECT_TRUE(is_hex_address(region["va"])) << region;
    EXPECT_TRUE(region["size"].is_number_unsigned()) << region;
  }
  ASSERT_EQ(map["dynamic"].size(), 2u);
  EXPECT_EQ(map["dynamic"][0]["size"], 3 * 4096);
  EXPECT_EQ(map["dynamic"][1]["pa"], "0x00000a000000");
  EXPECT_EQ(keys_of(map["tables"]), (std::vector<std::string>{"pages", "pool_pa", "levels"}));

  r = run("translate --json 0x0e200010");
  ASSERT_EQ(r.status, 0) << r.err;
  auto walk = nlohmann::ordered_json::parse(r.out);
  EXPECT_EQ(keys_of(walk), (std::vector<std::string>{"va", "pa", "level", "leaf_size", "descriptor", "attrs"}));
  EXPECT_TRUE(is_hex_address(walk["descriptor"]));
  r = run("translate --json 0x1000");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(keys_of(nlohmann::ordered_json::parse(r.out)), (std::vector<std::string>{"va", "fault"}));
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
      {"map --va-offset zz", 2, "teemm: --va-offset: invalid number 'zz'\n"},
      {"map --bogus", 2, "teemm: unknown option '--bogus' (see teemm --help)\n"},
      {"translate", 2, "teemm: translate takes exactly one virtual address\n"},
      {"translate 0xZZ", 2, "teemm: invalid virtual address '0xZZ'\n"},
      {"translate -5", 2, "teemm: invalid virtual address '-5'\n"},
      {"map extra", 2, "teemm: unexpected argument 'extra'\n"},
      {"map --va-offset 0x800", 2, "teemm: --va-offset must be a multiple of 4 KiB\n"},
      {"map --va-offset 0xfffffffffffff000", 1,
       "teemm: layout refused: --va-offset 0xfffffffffffff000: address overflow\n"},
  };
  for (const auto& c : cases) {
    const CliRun r = run(c.arguments);
    EXPECT_EQ(r.status, c.status) << c.arguments;
    if (c.message != nullptr) {
      EXPECT_EQ(r.err, c.message) << c.arguments;
    }
    EXPECT_EQ(r.err.rfind("teemm: ", 0), 0u) << c.arguments << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << c.arguments << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << c.arguments;
  }
  const CliRun help = run("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("usage: teemm"), std::string::npos);
}

// ---- The number grammar: decimal, or 0x/0X hex; no sign, space or octal; nothing past 2^64-1 -----

TEST(CliNumber, AcceptsDecimalAndHexOnly) {
  const struct {
    const char* text;
    uint64_t value;
  } good[] = {
      {"0", 0},
      {"7", 7},
      {"010", 10},  // a leading 0 is decimal, not octal
      {"039", 39},
      {"0x10", 16},
      {"0X1f", 31},
      {"0xABCdef", 0xabcdef},
      {"0x0000000000000000000001", 1},  // leading zeros never overflow
      {"18446744073709551615", UINT64_MAX},
      {"0xffffffffffffffff", UINT64_MAX},
  };
  for (const auto& g : good) {
    uint64_t value = 12345;
    EXPECT_EQ(teemm::tool::parse_number(g.text, &value), teemm::tool::NumberError::kNone) << g.text;
    EXPECT_EQ(value, g.value) << g.text;
  }
  for (const char* bad : {"",     "0x",   "0X",  "x10",   "-1",   "+1",    " 1",  "1 ",  "\t1",  "1\n",  "-0",
                          "0x-1", "0x 1", "1e3", "0b101", "0o17", "1_000", "1,2", "12a", "0x1g", "0xx1", "٣"}) {
    uint64_t value = 12345;
    EXPECT_EQ(teemm::tool::parse_number(bad, &value), teemm::tool::NumberError::kInvalid) << "'" << bad << "'";
    EXPECT_EQ(value, 12345u) << "'" << bad << "' changed the value";
  }
  for (const char* big :
       {"18446744073709551616", "99999999999999999999999", "0x10000000000000000", "0xffffffffffffffff0"}) {
    uint64_t value = 12345;
    EXPECT_EQ(teemm::tool::parse_number(big, &value), teemm::tool::NumberError::kTooLarge) << big;
    EXPECT_EQ(value, 12345u) << big << " changed the value";
  }
  uint64_t value = 0;
  EXPECT_EQ(teemm::tool::parse_number("99999999999999999999x", &value), teemm::tool::NumberError::kInvalid);
}

TEST(CliNumber, RefusalNamesTheOptionAndTheText) {
  EXPECT_EQ(teemm::tool::number_refusal("--va-bits", "0x", teemm::tool::NumberError::kInvalid),
            "--va-bits: invalid number '0x'");
  EXPECT_EQ(teemm::tool::number_refusal("--va-offset", "0x10000000000000000", teemm::tool::NumberError::kTooLarge),
            "--va-offset: number too large '0x10000000000000000'");
}

// ---- The defects of issue 8, item 15, one test each ------------------------------------------------

TEST(Cli, LeadingZeroIsDecimalNotOctal) {
  // strtoull(…, 0) read 010 as eight pages.
  CliRun r = run("map --json --shm 0x40400000,010");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("{\"kind\": \"shm\", \"va\": \"0x00000ec00000\", \"size\": 40960, \"pa\": \"0x000040400000\""),
            std::string::npos)
      << r.out;
  // and 039 was "invalid" (9 is no octal digit).
  r = run("map --va-bits 039");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("teemm map: platform qemu-virt, 39-bit VA,", 0), 0u) << r.out;
  r = run("map --va-bits 0x27 --va-offset 00");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("teemm map: platform qemu-virt, 39-bit VA, VA offset 0x000000000000", 0), 0u) << r.out;
}

TEST(Cli, LeadingWhitespaceIsNoWayPastTheSign) {
  // " -1" slipped past the minus check and walked 0xffffffffffffffff with status 0.
  for (const char* va : {"\" -1\"", "\" 1\"", "\"1 \"", "+1", "-1", "0x-1"}) {
    const CliRun r = run(std::string("translate ") + va);
    EXPECT_EQ(r.status, 2) << va;
    EXPECT_EQ(r.err.rfind("teemm: invalid virtual address '", 0), 0u) << va << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << va << ": " << r.out;
  }
  const CliRun r = run("map --va-offset \" 0x1000\"");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "teemm: --va-offset: invalid number ' 0x1000'\n");
}

TEST(Cli, UnknownOptionOfTranslateIsReportedAsSuch) {
  // It was taken for the VA: "invalid virtual address '--bogus'".
  CliRun r = run("translate --bogus");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "teemm: unknown option '--bogus' (see teemm --help)\n");
  r = run("translate 0x1000 --bogus");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "teemm: unknown option '--bogus' (see teemm --help)\n");
}

TEST(Cli, ZeroSizeIsAUsageErrorForShmAndIoremapAlike) {
  // --ioremap X,0 went to the core and exited 1, where --shm X,0 exited 2.
  CliRun r = run("map --ioremap 0x0a000000,0");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "teemm: --ioremap takes a non-zero size: '0x0a000000,0'\n");
  r = run("map --shm 0x40400000,0");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "teemm: --shm takes 1 to 1048576 pages: '0x40400000,0'\n");
  r = run("map --ioremap 0x0a000000,0x200 --shm 0x40400000,1");  // the same, sized, is fine
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("  shm   VA 0x00000ec00000  size 4 KiB      PA 0x000040400000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  io    VA 0x000012c00000  size 4 KiB      PA 0x00000a000000"), std::string::npos) << r.out;
}

TEST(Cli, BadVaOffsetIsBlamedOnTheVaOffset) {
  // The layout's refusal named region 'gic', the first region that the offset pushed past 2^64.
  CliRun r = run("map --va-offset 0xfffffffffffff000");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "teemm: layout refused: --va-offset 0xfffffffffffff000: address overflow\n");
  r = run("map --va-offset 0x123");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "teemm: --va-offset must be a multiple of 4 KiB\n");
  r = run("translate 0x1000 --va-offset 0x8000000000000");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "teemm: layout refused: --va-offset 0x8000000000000: address overflow\n");
}

TEST(Cli, NumbersPast64BitsAreRefusedNotWrapped) {
  const struct {
    const char* arguments;
    const char* message;
  } cases[] = {
      {"map --va-offset 0x10000000000000000", "teemm: --va-offset: number too large '0x10000000000000000'\n"},
      {"map --va-bits 18446744073709551616", "teemm: --va-bits: number too large '18446744073709551616'\n"},
      {"map --va-bits 18446744073709551655", "teemm: --va-bits: number too large '18446744073709551655'\n"},
      {"map --shm 0x10000000000040400000,1", "teemm: --shm: number too large '0x10000000000040400000'\n"},
      {"map --ioremap 0x0a000000,0x10000000000000200", "teemm: --ioremap: number too large '0x10000000000000200'\n"},
      {"translate 0x10000000000000000", "teemm: invalid virtual address '0x10000000000000000' (past 2^64-1)\n"},
      {"translate 18446744073709551616", "teemm: invalid virtual address '18446744073709551616' (past 2^64-1)\n"},
      {"map --va-bits 0x", "teemm: --va-bits: invalid number '0x'\n"},
      {"map --va-bits ''", "teemm: --va-bits: invalid number ''\n"},
      {"map --shm 0x40400000,1e3", "teemm: --shm: invalid number '1e3'\n"},
  };
  for (const auto& c : cases) {
    const CliRun r = run(c.arguments);
    EXPECT_EQ(r.status, 2) << c.arguments;
    EXPECT_EQ(r.err, c.message) << c.arguments;
    EXPECT_TRUE(r.out.empty()) << c.arguments;
  }
  // 2^64-1 itself is a number, in either base: outside the 39-bit VA space, a level-0 fault.
  for (const char* va : {"0xffffffffffffffff", "18446744073709551615"}) {
    const CliRun r = run(std::string("translate --json ") + va);
    EXPECT_EQ(r.status, 0) << va << ": " << r.err;
    EXPECT_EQ(r.out, "{\"va\": \"0xffffffffffffffff\", \"fault\": {\"kind\": \"translation\", \"level\": 0}}\n") << va;
  }
}

TEST(Cli, ExitStatusSaysWhoRefused) {
  // 2: the command line. 1: the memory manager, given a well-formed one. 0: done.
  CliRun r = run("map --ioremap 0x0a000000,0x2000000");  // 32 MiB: more than the 16 MiB IO reservation
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err.rfind("teemm: ioremap of PA 0xa000000: ", 0), 0u) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  r = run("map --shm 0xfffffffffffff000,2");  // a range that would wrap past 2^64
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "teemm: shared memory at PA 0xfffffffffffff000: address overflow\n");
  for (const char* usage : {"map --shm", "map --shm 0x40400000", "map --shm 0x40400000,1,2",
                            "map --shm 0x40400000,2000000", "map --ioremap 0x0a000000,0x200,maybe", "dump --json",
                            "--json map", "map dump", "translate 1 2", "help nosuch", "-x"}) {
    r = run(usage);
    EXPECT_EQ(r.status, 2) << usage;
    EXPECT_EQ(r.err.rfind("teemm: ", 0), 0u) << usage << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << usage << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << usage;
  }
}

TEST(Cli, EveryCommandHasItsOwnHelp) {
  const struct {
    const char* arguments;
    const char* usage;
  } cases[] = {
      {"--help", "usage: teemm <command> [options]\n"},
      {"-h", "usage: teemm <command> [options]\n"},
      {"help", "usage: teemm <command> [options]\n"},
      {"map --help", "usage: teemm map [options]\n"},
      {"dump --help", "usage: teemm dump [options]\n"},
      {"translate --help", "usage: teemm translate VA [options]\n"},
      {"translate -h", "usage: teemm translate VA [options]\n"},
      {"help translate", "usage: teemm translate VA [options]\n"},
      {"map --va-bits 30 --help", "usage: teemm map [options]\n"},
  };
  for (const auto& c : cases) {
    const CliRun r = run(c.arguments);
    EXPECT_EQ(r.status, 0) << c.arguments;
    EXPECT_EQ(r.out.rfind(c.usage, 0), 0u) << c.arguments << ":\n" << r.out;
    EXPECT_TRUE(r.err.empty()) << c.arguments << ": " << r.err;
  }
  const CliRun top = run("--help");
  for (const char* command : {"map", "dump", "translate"})
    EXPECT_NE(top.out.find("\n  " + std::string(command) + " "), std::string::npos) << command;
  const CliRun map = run("map --help");
  for (const char* option : {"--platform NAME", "--va-bits N", "--va-offset X", "--shm PA,PAGES",
                             "--ioremap PA,SIZE[,secure|nonsecure]", "--json"})
    EXPECT_NE(map.out.find(option), std::string::npos) << option;
  EXPECT_EQ(run("dump --help").out.find("--json"), std::string::npos);  // dump has no JSON form
  EXPECT_EQ(run("help translate").out, run("translate --help").out);
}

}  // namespace

// Issue 8, defects 2 and 3, as a user meets them: the memory manager refuses, exit 1, one line.
TEST(Cli, SecureMemoryAndRamAreRefusedAsSharedMemoryAndDevices) {
  const char* const refused[] = {
      "translate 0xec00000 --shm 0x0e100000,1",              // TEE code as shared memory
      "map --ioremap 0x0e100000,0x1000,secure",              // TEE code as a secure device
      "map --ioremap 0x0e400000,0x1000",                     // TA RAM as a non-secure device
      "map --shm 0x40400000,1 --ioremap 0x40400000,0x1000",  // live SHM as a device
      "map --shm 0x0,1",                                     // flash
      "map --shm 0x80000000,1",                              // past the end of DRAM
  };
  for (const char* arguments : refused) {
    const CliRun r = run(arguments);
    EXPECT_EQ(r.status, 1) << arguments;
    EXPECT_NE(r.err.find("memory not allowed for this use"), std::string::npos) << arguments << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << arguments;
  }
  EXPECT_EQ(run("translate 0xec00000 --shm 0x40400000,1").status, 0);
}
