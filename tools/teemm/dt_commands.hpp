// tools/teemm/dt_commands: the device-tree side of the CLI, kept apart from main.cpp's parsing —
// regions for map/dump/translate from --dtb/--dts, `teemm platform` and `teemm lint`. Each returns
// the exit status (0, 1 refused, 2 usage) with the output or the one-line error.
#pragma once

#include <string>
#include <vector>

#include "dt_source.hpp"
#include "lint.hpp"
#include "mm/phys_mem_registry.hpp"
#include "platform/host/dt_platform.hpp"

namespace teemm::tool {

struct CommandResult {
  int status = 0;
  std::string out;    // for stdout
  std::string error;  // one line, without the "teemm: " prefix
};

// The platform of --dtb/--dts and the spec, for map, dump and translate: `platform` keeps the names
// the regions point to. Status 2 when the spec is incomplete or malformed, 1 when the tree is refused.
CommandResult load_dt_platform(const DtArguments& args, platform::host::DtPlatform* platform);

// The table pages a session may simulate for a derived platform: as many as its TEE data region
// holds (the session keeps the pool at that region's start), at least 16, at most 4096.
size_t simulated_table_pages(const platform::host::DtPlatform& platform);

// `teemm platform`: the derived region table as C++. `command` is echoed in its comment.
CommandResult run_platform_command(const DtArguments& args, const std::string& command);

// `teemm lint`: status 1 when there are errors (or the tree cannot be read).
CommandResult run_lint_command(const DtArguments& args, const LintOptions& options, bool json);

}  // namespace teemm::tool
