// tools/teemm: the command-line tool. Parses arguments, builds a session for the chosen platform
// and prints what the subcommand asks for. Every error is one line on stderr and a non-zero exit.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "platform/builtin/qemu_virt.hpp"
#include "render.hpp"
#include "session.hpp"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

const char* const kHelp =
    "usage: teemm <command> [options]\n"
    "\n"
    "Lays out an OP-TEE-style static memory map and builds its VMSAv8-64 translation tables.\n"
    "\n"
    "commands:\n"
    "  map                 the regions (name, type, PA, VA, size, attributes) and a table summary\n"
    "  dump                every valid descriptor, level by level\n"
    "  translate VA        walk the tables for one virtual address\n"
    "  help                this text\n"
    "\n"
    "options:\n"
    "  --platform NAME     built-in platform (default: qemu-virt)\n"
    "  --va-bits N         size of the virtual address space, 25..48 (default: 39)\n"
    "  --va-offset X       map physical regions at PA + X (default: 0, identity)\n"
    "  --json              machine-readable output (map, translate)\n"
    "  --shm PA,PAGES      map PAGES contiguous normal-world pages from PA as dynamic shared memory\n"
    "  --ioremap PA,SIZE[,secure|nonsecure]\n"
    "                      map device registers from the IO reservation (default non-secure)\n"
    "                      (both repeatable; the dynamic ranges show in map and translate)\n"
    "  -h, --help          this text\n";

struct Arguments {
  std::string command;
  std::string platform = "qemu-virt";
  std::vector<std::string> positional;
  teemm::tool::SessionOptions options;
  bool json = false;
};

int fail(int status, const std::string& message) {
  std::fprintf(stderr, "teemm: %s\n", message.c_str());
  return status;
}

bool parse_number(const std::string& text, uint64_t* value) {
  if (text.empty() || text[0] == '-') return false;
  errno = 0;
  char* end = nullptr;
  const unsigned long long parsed = std::strtoull(text.c_str(), &end, 0);
  if (errno != 0 || end == text.c_str() || *end != '\0') return false;
  *value = parsed;
  return true;
}

// Splits "a,b[,c]" at commas.
std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts(1);
  for (char c : text) {
    if (c == ',')
      parts.emplace_back();
    else
      parts.back() += c;
  }
  return parts;
}

// --shm PA,PAGES  and  --ioremap PA,SIZE[,secure]
std::string parse_dynamic(const std::string& option, const std::string& value, Arguments* args) {
  const std::vector<std::string> parts = split_commas(value);
  uint64_t pa = 0, amount = 0;
  const bool is_shm = option == "--shm";
  const size_t max_parts = is_shm ? 2 : 3;
  if (parts.size() < 2 || parts.size() > max_parts || !parse_number(parts[0], &pa) || !parse_number(parts[1], &amount))
    return "invalid value for " + option + ": '" + value + "' (expected " + (is_shm ? "PA,PAGES" : "PA,SIZE[,secure]") +
           ")";
  if (is_shm) {
    if (amount == 0 || amount > (uint64_t{1} << 20)) return "--shm takes 1 to 1048576 pages";
    args->options.shared_memory.push_back({pa, amount});
    return "";
  }
  if (parts.size() == 3 && parts[2] != "secure" && parts[2] != "nonsecure")
    return "invalid security for --ioremap: '" + parts[2] + "' (secure or nonsecure)";
  args->options.io.push_back({pa, amount, parts.size() == 3 && parts[2] == "secure"});
  return "";
}

// Returns an empty string on success, else the usage error.
std::string parse_arguments(int argc, char** argv, Arguments* args) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next_value = [&](uint64_t* out) -> std::string {
      if (i + 1 >= argc) return arg + " needs a value";
      const std::string value = argv[++i];
      return parse_number(value, out) ? "" : "invalid number for " + arg + ": '" + value + "'";
    };
    if (arg == "-h" || arg == "--help") {
      args->command = "help";
    } else if (arg == "--json") {
      args->json = true;
    } else if (arg == "--platform") {
      if (i + 1 >= argc) return "--platform needs a value";
      args->platform = argv[++i];
    } else if (arg == "--va-bits") {
      uint64_t bits = 0;
      if (std::string e = next_value(&bits); !e.empty()) return e;
      if (bits < 25 || bits > 48) return "--va-bits must be between 25 and 48";
      args->options.layout.va_bits = static_cast<unsigned>(bits);
    } else if (arg == "--shm" || arg == "--ioremap") {
      if (i + 1 >= argc) return arg + " needs a value";
      if (std::string e = parse_dynamic(arg, argv[++i], args); !e.empty()) return e;
    } else if (arg == "--va-offset") {
      if (std::string e = next_value(&args->options.layout.va_offset); !e.empty()) return e;
      if ((args->options.layout.va_offset & 0xFFF) != 0) return "--va-offset must be a multiple of 4 KiB";
    } else if (!arg.empty() && arg[0] == '-' && !(args->command == "translate" && args->positional.empty())) {
      return "unknown option '" + arg + "' (see teemm --help)";
    } else if (args->command.empty()) {
      args->command = arg;
    } else {
      args->positional.push_back(arg);
    }
  }
  return "";
}

bool load_platform(const std::string& name, std::vector<teemm::mm::Region>* regions) {
  if (name != "qemu-virt") return false;
  namespace platform = teemm::platform::qemu_virt;
  regions->assign(platform::kRegions, platform::kRegions + platform::kRegionCount);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Arguments args;
  if (std::string error = parse_arguments(argc, argv, &args); !error.empty()) return fail(kExitUsage, error);
  if (args.command.empty() || args.command == "help") {
    std::fputs(kHelp, args.command.empty() ? stderr : stdout);
    return args.command.empty() ? kExitUsage : 0;
  }
  if (args.command != "map" && args.command != "dump" && args.command != "translate")
    return fail(kExitUsage, "unknown command '" + args.command + "' (see teemm --help)");
  uint64_t va = 0;
  if (args.command == "translate") {
    if (args.positional.size() != 1) return fail(kExitUsage, "translate takes exactly one virtual address");
    if (!parse_number(args.positional[0], &va))
      return fail(kExitUsage, "invalid virtual address '" + args.positional[0] + "'");
  } else if (!args.positional.empty()) {
    return fail(kExitUsage, "unexpected argument '" + args.positional[0] + "'");
  }

  std::vector<teemm::mm::Region> regions;
  if (!load_platform(args.platform, &regions))
    return fail(kExitUsage, "unknown platform '" + args.platform + "' (built in: qemu-virt)");
  const teemm::tool::Session session(args.platform, regions, args.options);
  if (!session.ok()) return fail(kExitFailure, session.error());

  std::string out;
  if (args.command == "map")
    out = args.json ? teemm::tool::render_map_json(session) : teemm::tool::render_map_text(session);
  else if (args.command == "dump")
    out = teemm::tool::render_dump(session);
  else
    out = args.json ? teemm::tool::render_translation_json(session, va)
                    : teemm::tool::render_translation_text(session, va);
  std::fputs(out.c_str(), stdout);
  return std::fflush(stdout) == 0 ? 0 : fail(kExitFailure, "cannot write output");
}
