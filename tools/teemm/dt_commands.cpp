// The device-tree commands (see dt_commands.hpp).
#include "dt_commands.hpp"

#include <algorithm>

#include "platform_render.hpp"
#include "session.hpp"

namespace teemm::tool {
namespace {

namespace host = platform::host;

constexpr int kExitRefused = 1;
constexpr int kExitUsage = 2;

CommandResult failure(int status, std::string error) { return CommandResult{status, "", std::move(error)}; }

// The tree and the spec, both read; a failure is the status and message to give.
CommandResult read_inputs(const DtArguments& args, host::DeviceTree* tree, host::PlatformSpec* spec) {
  if (!args.tree_given()) return failure(kExitUsage, "give the device tree: --dtb FILE or --dts FILE");
  if (!args.dtb.empty() && !args.dts.empty())
    return failure(kExitUsage, "give one device tree: --dtb or --dts, not both");
  if (std::string e = parse_platform_spec(args, spec); !e.empty()) return failure(kExitUsage, e);
  if (std::string e = read_tree(args, tree); !e.empty()) return failure(kExitRefused, e);
  return {};
}

}  // namespace

CommandResult load_dt_platform(const DtArguments& args, host::DtPlatform* platform) {
  host::DeviceTree tree;
  host::PlatformSpec spec;
  if (CommandResult r = read_inputs(args, &tree, &spec); r.status != 0) return r;
  if (std::string missing = describe_missing(spec); !missing.empty()) return failure(kExitUsage, missing);
  *platform = host::derive_platform(tree, spec);
  return {};
}

size_t simulated_table_pages(const host::DtPlatform& platform) {
  for (const mm::Region& r : platform.regions)
    if (r.kind == mm::RegionKind::kMapped && r.type == mm::MemoryType::kTeeRamRw)
      return std::clamp<size_t>(static_cast<size_t>(r.size.bytes >> kPageShift), 16, 4096);
  return 4096;
}

CommandResult run_platform_command(const DtArguments& args, const std::string& command) {
  host::DtPlatform platform;
  if (CommandResult r = load_dt_platform(args, &platform); r.status != 0) return r;
  if (mm::Refusal r = mm::validate_regions(platform.regions.data(), platform.regions.size()); !r.ok())
    return failure(kExitRefused, "the derived platform is refused: " + describe_refusal(r) + " (teemm lint says more)");
  return CommandResult{0, render_platform_cpp(platform, cpp_identifier(platform_label(args)), command), ""};
}

CommandResult run_lint_command(const DtArguments& args, const LintOptions& options, bool json) {
  host::DeviceTree tree;
  host::PlatformSpec spec;
  if (CommandResult r = read_inputs(args, &tree, &spec); r.status != 0) return r;
  tree.source = platform_label(args);
  const LintReport report = lint_device_tree(tree, spec, options);
  return CommandResult{report.has_errors() ? kExitRefused : 0,
                       json ? render_lint_json(report) : render_lint_text(report), ""};
}

}  // namespace teemm::tool
