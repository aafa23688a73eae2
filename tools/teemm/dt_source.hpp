// tools/teemm/dt_source: a platform from a device tree for the CLI — the tree (--dtb, or --dts
// through dtc), what it cannot say (--platform-file, then --tee-ram, --ta-ram, ... on top), and
// the derived region table.
#pragma once

#include <string>

#include "platform/host/device_tree.hpp"
#include "platform/host/dt_platform.hpp"

namespace teemm::tool {

// The device-tree options as given on the command line; every number still text.
struct DtArguments {
  std::string dtb;
  std::string dts;
  std::string platform_file;
  std::string tee_ram;      // PA,CODE,RODATA,DATA
  std::string ta_ram;       // PA,SIZE
  std::string shm_vaspace;  // SIZE
  std::string io_vaspace;   // SIZE
  std::string nsec_shm;     // PA,SIZE
  std::string sdp;          // PA,SIZE

  bool tree_given() const { return !dtb.empty() || !dts.empty(); }
  bool spec_given() const {
    return !platform_file.empty() || !tee_ram.empty() || !ta_ram.empty() || !shm_vaspace.empty() ||
           !io_vaspace.empty() || !nsec_shm.empty() || !sdp.empty();
  }
  // The tree's file, as given.
  const std::string& tree_path() const { return dtb.empty() ? dts : dtb; }
};

// The platform file and the options (options win, member by member). Returns a one-line error
// (a bad file, member, number or range) or "".
std::string parse_platform_spec(const DtArguments& args, platform::host::PlatformSpec* spec);
// The same for the platform file alone (a JSON object; see docs/DEVICE-TREES.md).
std::string parse_platform_file(const std::string& path, platform::host::PlatformSpec* spec);

// Reads the tree named by --dtb or --dts. Returns a one-line error naming the node at fault, or "".
std::string read_tree(const DtArguments& args, platform::host::DeviceTree* tree);

// "the device tree does not say tee_ram, ta_ram: give --tee-ram PA,CODE,RODATA,DATA, --ta-ram
// PA,SIZE (or the same members in --platform-file)", or "" when nothing is missing.
std::string describe_missing(const platform::host::PlatformSpec& spec);

// The name a derived platform goes by in the tool's output: the tree file's base name.
std::string platform_label(const DtArguments& args);

}  // namespace teemm::tool
