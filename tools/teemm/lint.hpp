// tools/teemm/lint: what is wrong with a device tree as a TEE platform, each finding naming the
// nodes or regions at fault, with a severity.
//
// Checks (the `check` of a finding):
//   tree            what the reader could not use (a reg outside its bus's ranges, a dynamic
//                   reservation, a memory node of size 0, /reserved-memory without ranges)
//   memory          memory nodes described twice, not page aligned, or missing
//   reserved        reservations outside memory or overlapping each other
//   secure-exposed  secure memory (secure-only memory nodes, OP-TEE's carve-out, TEE RAM, TA RAM,
//                   SDP) the normal world may use: in a memory node and not withheld by a no-map
//                   reservation; static SHM over secure memory
//   placement       TEE RAM, TA RAM or SDP in memory the tree does not describe
//   conflict        what the registry refuses: overlapping types, devices in memory, devices of
//                   different security sharing a page, misaligned or empty regions
//   pa-range        regions beyond the output address size the tables are built for (TCR.PS)
//   layout, tables  the memory map or its tables refused
//   alignment       mapped regions whose alignment forces 4 KiB pages where blocks would do, with
//                   the table pages that costs (the tables are built both ways and compared); a
//                   warning for memory the porter places, a note for device registers
//   unused          secure memory that is neither TEE RAM, TA RAM nor SDP
//   devices, optee  no GIC, no UART, no secure UART; no /firmware/optee, no secure memory
//   spec            what could not be checked because the platform file/options lack it
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "mm/memory_map.hpp"
#include "platform/host/device_tree.hpp"
#include "platform/host/dt_platform.hpp"

namespace teemm::tool {

enum class Severity : uint8_t { kError, kWarning, kInfo };
const char* severity_name(Severity severity);  // "error", "warning", "info"

struct Finding {
  Severity severity = Severity::kInfo;
  std::string check;
  std::vector<std::string> subjects;  // the nodes or regions concerned
  std::string message;
};

struct LintOptions {
  mm::LayoutOptions layout;
  unsigned pa_bits = 40;  // the output size the tables are built for (TCR.IPS / PS)
};

struct LintReport {
  std::string source;
  std::string model;
  std::vector<Finding> findings;  // errors first, then warnings, then infos; each in check order

  size_t count(Severity severity) const;
  bool has_errors() const { return count(Severity::kError) > 0; }
};

LintReport lint_device_tree(const platform::host::DeviceTree& tree, const platform::host::PlatformSpec& spec,
                            const LintOptions& options);

std::string render_lint_text(const LintReport& report);
std::string render_lint_json(const LintReport& report);

}  // namespace teemm::tool
