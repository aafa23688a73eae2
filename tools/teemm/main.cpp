// tools/teemm: the command-line tool. CLI11 parses the command line into a subcommand (map, dump,
// translate VA, sim SCENARIO), each with its own generated --help; every number goes through the
// one grammar of number.hpp; then a session is built for the chosen platform and the subcommand's
// output printed (sim: the scenario's replay, simulator.hpp).
//
// Exit status, one rule: 2 for anything wrong with the command line (unknown command or option,
// a malformed or out-of-domain number, a missing value or VA) or with a scenario, 1 when the
// command line was well-formed but the memory manager refused the work (a layout, a map, an
// ioremap) or a scenario's expectation was not met, 0 otherwise.
// Every error is exactly one line on stderr starting with "teemm: "; --help goes to stdout.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "dt_commands.hpp"
#include "dt_options.hpp"
#include "number.hpp"
#include "platform/builtin/qemu_virt.hpp"
#include "render.hpp"
#include "session.hpp"
#include "simulator.hpp"
#include "svg.hpp"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitRefused = 1;

constexpr uint64_t kMaxShmPages = uint64_t{1} << 20;

const char* const kDescription =
    "Lays out an OP-TEE-style static memory map and builds its VMSAv8-64 translation tables;\n"
    "replays scenarios of SMC calls against the secure world built on them.";
const char* const kFooter =
    "Numbers are decimal (010 is ten) or 0x-prefixed hex, at most 2^64-1; no sign, no spaces.\n"
    "--shm and --ioremap are repeatable; the dynamic ranges show in map and translate.\n"
    "Exit status: 0 done, 1 refused by the memory manager (sim: an expectation not met),\n"
    "2 a bad command line (sim: or scenario).";
const char* const kSimFooter =
    "The scenario format is docs/SCENARIOS.md; the replay is printed as JSON on stdout.\n"
    "Exit status: 0 every expectation met, 1 one was not (the JSON says which),\n"
    "2 a malformed scenario or a bad command line (nothing runs).";

// The command line as given: every number still text, converted by one grammar after parsing.
struct CommandLine {
  std::string platform = "qemu-virt";
  std::string va_bits;
  std::string va_offset;
  std::vector<std::string> shm;
  std::vector<std::string> ioremap;
  std::string va;
  std::string scenario;
  std::string help_topic;
  bool json = false;
  teemm::tool::DtArguments dt;  // --dtb/--dts and what the tree cannot say
  std::string svg;              // map --svg FILE
};

// What the command line asks for, checked and converted.
struct Request {
  std::string command;
  std::string platform;
  teemm::tool::SessionOptions options;
  uint64_t va = 0;
  std::string scenario;
  bool json = false;
  teemm::tool::DtArguments dt;
  std::string svg;
};

int fail(int status, const std::string& message) {
  std::fprintf(stderr, "teemm: %s\n", message.c_str());
  return status;
}

// CLI11's own messages, folded onto the one line an error gets.
std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n') c = ' ';
  return text;
}

// The help text: usage first, then the description, arguments, options and commands.
class HelpFormatter : public CLI::Formatter {
 public:
  HelpFormatter() {
    label("Positionals", "arguments");
    column_width(26);
  }

  std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override {
    if (mode == CLI::AppFormatMode::Sub) return make_expanded(app);
    return make_usage(app, name) + "\n" + make_description(app) + make_positionals(app) + make_groups(app, mode) +
           make_subcommands(app, mode) + "\n" + make_footer(app);
  }

  std::string make_usage(const CLI::App* app, std::string name) const override {
    const auto named = [](const CLI::App* sub) { return !sub->get_name().empty(); };
    if (!app->get_subcommands(named).empty()) return "usage: " + name + " <command> [options]\n";
    std::string out = "usage: " + name;
    for (const CLI::Option* positional : app->get_options([](const CLI::Option* o) { return o->get_positional(); }))
      out += " " + positional->get_name(true);
    return out + " [options]\n";
  }
};

// Options every command takes: the platform, its layout and the dynamic mappings to make.
void add_session_options(CLI::App* command, CommandLine* line) {
  command->add_option("--platform", line->platform, "built-in platform (default: qemu-virt)")->type_name("NAME");
  command->add_option("--va-bits", line->va_bits, "VA space size in bits, 25..48 (default: 39)")->type_name("N");
  command->add_option("--va-offset", line->va_offset, "map physical regions at PA + X, a 4 KiB multiple (default: 0)")
      ->type_name("X");
  command->add_option("--shm", line->shm, "map PAGES (1..1048576) normal-world pages from PA as shared memory")
      ->option_text("PA,PAGES")
      ->allow_extra_args(false);
  command->add_option("--ioremap", line->ioremap, "map SIZE bytes of device registers (default non-secure)")
      ->option_text("PA,SIZE[,secure|nonsecure]")
      ->allow_extra_args(false);
  teemm::tool::add_dt_options(command, &line->dt);
}

void define_commands(CLI::App* app, CommandLine* line) {
  app->formatter(std::make_shared<HelpFormatter>());
  app->option_defaults()->group("options")->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app->set_help_flag("-h,--help", "this text");
  app->footer(kFooter);
  // Leftovers are collected, not thrown, so that check_leftovers() can name them in the tool's words.
  app->allow_extras();
  app->require_subcommand(0, 1);

  CLI::App* map = app->add_subcommand("map", "the regions (name, type, PA, VA, size, attributes) and a table summary");
  add_session_options(map, line);
  map->add_flag("--json", line->json, "machine-readable output");
  map->add_option("--svg", line->svg, "also draw the physical and virtual layouts into FILE")->type_name("FILE");

  CLI::App* dump = app->add_subcommand("dump", "every valid descriptor, level by level");
  add_session_options(dump, line);

  CLI::App* translate = app->add_subcommand("translate", "walk the tables for one virtual address");
  translate->add_option("VA", line->va, "the virtual address to walk")->type_name("");
  add_session_options(translate, line);
  translate->add_flag("--json", line->json, "machine-readable output");

  CLI::App* sim = app->add_subcommand("sim", "replay a scenario of SMC calls against the secure world");
  sim->add_option("SCENARIO", line->scenario, "the scenario file (JSON, docs/SCENARIOS.md)")->type_name("");

  const std::vector<CLI::App*> dt_commands =
      teemm::tool::add_dt_commands(app, &line->dt, &line->json, &line->va_bits, &line->va_offset);

  CLI::App* help = app->add_subcommand("help", "this text, or a command's");
  help->add_option("COMMAND", line->help_topic, "map, dump, translate, sim, platform or lint")->type_name("");

  std::vector<CLI::App*> commands = {map, dump, translate, sim, help};
  commands.insert(commands.end() - 1, dt_commands.begin(), dt_commands.end());
  for (CLI::App* command : commands) {
    command->group("commands");
    command->set_help_flag("-h,--help", "this text");
    command->allow_extras();
    command->footer(command == sim ? kSimFooter : kFooter);
  }
}

std::string unknown_option(const std::string& text) { return "unknown option '" + text + "' (see teemm --help)"; }

// One argument CLI11 left over (none is "").
struct Leftover {
  std::string text;
  bool option = false;
};

// The first of `rest`, skipping the "--" that CLI11 keeps there: nothing after it is an option, and
// neither is "-5", which CLI11 also leaves to the positionals.
Leftover first_leftover(const std::vector<std::string>& rest) {
  bool positional_only = false;
  for (const std::string& text : rest) {
    if (text == "--" && !positional_only) {
      positional_only = true;
      continue;
    }
    const bool negative_number = text.size() > 1 && text[1] >= '0' && text[1] <= '9';
    return {text, !positional_only && text.size() > 1 && text[0] == '-' && !negative_number};
  }
  return {};
}

// What CLI11 left over: unknown options and arguments no command takes.
std::string check_leftovers(const CLI::App& app, const CLI::App* command) {
  if (const Leftover top = first_leftover(app.remaining()); !top.text.empty())
    return top.option ? unknown_option(top.text) : "unknown command '" + top.text + "' (see teemm --help)";
  if (command == nullptr) return "missing command: map, dump, translate, sim, platform or lint (see teemm --help)";
  const Leftover rest = first_leftover(command->remaining());
  if (rest.text.empty()) return "";
  if (rest.option) return unknown_option(rest.text);
  if (command->get_name() == "translate") return "translate takes exactly one virtual address";
  if (command->get_name() == "sim") return "sim takes exactly one scenario file";
  return "unexpected argument '" + rest.text + "'";
}

std::string number(const char* option, const std::string& text, uint64_t* value) {
  const teemm::tool::NumberError error = teemm::tool::parse_number(text, value);
  return error == teemm::tool::NumberError::kNone ? "" : teemm::tool::number_refusal(option, text, error);
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

// --shm PA,PAGES
std::string check_shm(const std::string& text, Request* request) {
  const std::vector<std::string> parts = split_commas(text);
  if (parts.size() != 2) return "invalid value for --shm: '" + text + "' (expected PA,PAGES)";
  teemm::tool::SharedMemoryRequest shm;
  if (std::string e = number("--shm", parts[0], &shm.pa); !e.empty()) return e;
  if (std::string e = number("--shm", parts[1], &shm.pages); !e.empty()) return e;
  if (shm.pages == 0 || shm.pages > kMaxShmPages) return "--shm takes 1 to 1048576 pages: '" + text + "'";
  request->options.shared_memory.push_back(shm);
  return "";
}

// --ioremap PA,SIZE[,secure|nonsecure]
std::string check_ioremap(const std::string& text, Request* request) {
  const std::vector<std::string> parts = split_commas(text);
  if (parts.size() != 2 && parts.size() != 3)
    return "invalid value for --ioremap: '" + text + "' (expected PA,SIZE[,secure])";
  teemm::tool::IoRequest io;
  if (std::string e = number("--ioremap", parts[0], &io.pa); !e.empty()) return e;
  if (std::string e = number("--ioremap", parts[1], &io.size); !e.empty()) return e;
  if (io.size == 0) return "--ioremap takes a non-zero size: '" + text + "'";
  if (parts.size() == 3 && parts[2] != "secure" && parts[2] != "nonsecure")
    return "invalid security for --ioremap: '" + parts[2] + "' (secure or nonsecure)";
  io.secure = parts.size() == 3 && parts[2] == "secure";
  request->options.io.push_back(io);
  return "";
}

// Whether `command` has the option `name` and it was given (not every command has every option).
bool given(const CLI::App& command, const char* name) {
  const CLI::Option* option = command.get_option_no_throw(name);
  return option != nullptr && option->count() > 0;
}

// Converts and checks every value of the chosen command. Returns the usage error, or "".
std::string check_values(const CLI::App& command, const CommandLine& line, Request* request) {
  request->command = command.get_name();
  request->platform = line.platform;
  request->json = line.json;
  if (request->command == "sim") {
    if (command.count("SCENARIO") == 0) return "sim takes exactly one scenario file";
    request->scenario = line.scenario;
    return "";
  }
  request->dt = line.dt;
  request->svg = line.svg;
  if (given(command, "--platform") && line.dt.tree_given())
    return "--platform and --dtb/--dts choose the platform both ways: give one";
  if (!line.dt.tree_given() && line.dt.spec_given())
    return "--platform-file, --tee-ram and the like need --dtb or --dts";
  teemm::mm::LayoutOptions& layout = request->options.layout;
  if (given(command, "--va-bits")) {
    uint64_t bits = 0;
    if (std::string e = number("--va-bits", line.va_bits, &bits); !e.empty()) return e;
    if (bits < 25 || bits > 48) return "--va-bits must be between 25 and 48";
    layout.va_bits = static_cast<unsigned>(bits);
  }
  if (given(command, "--va-offset")) {
    if (std::string e = number("--va-offset", line.va_offset, &layout.va_offset); !e.empty()) return e;
    if ((layout.va_offset & 0xFFF) != 0) return "--va-offset must be a multiple of 4 KiB";
  }
  for (const std::string& text : line.shm)
    if (std::string e = check_shm(text, request); !e.empty()) return e;
  for (const std::string& text : line.ioremap)
    if (std::string e = check_ioremap(text, request); !e.empty()) return e;
  if (request->command == "translate") {
    if (command.count("VA") == 0) return "translate takes exactly one virtual address";
    const teemm::tool::NumberError error = teemm::tool::parse_number(line.va, &request->va);
    if (error == teemm::tool::NumberError::kTooLarge) return "invalid virtual address '" + line.va + "' (past 2^64-1)";
    if (error != teemm::tool::NumberError::kNone) return "invalid virtual address '" + line.va + "'";
  }
  return "";
}

bool load_platform(const std::string& name, std::vector<teemm::mm::Region>* regions) {
  if (name != "qemu-virt") return false;
  namespace platform = teemm::platform::qemu_virt;
  regions->assign(platform::kRegions, platform::kRegions + platform::kRegionCount);
  return true;
}

int print(const std::string& text) {
  std::fputs(text.c_str(), stdout);
  return std::fflush(stdout) == 0 ? 0 : fail(kExitRefused, "cannot write output");
}

// `teemm platform` and `teemm lint` (tools/teemm/dt_commands); false for every other command.
bool run_dt_command(const Request& request, const std::string& command_line, int* status) {
  teemm::tool::CommandResult result;
  if (request.command == "platform") {
    result = teemm::tool::run_platform_command(request.dt, command_line);
  } else if (request.command == "lint") {
    teemm::tool::LintOptions options;
    options.layout = request.options.layout;
    options.pa_bits = request.options.pa_bits;
    result = teemm::tool::run_lint_command(request.dt, options, request.json);
  } else {
    return false;
  }
  if (!result.error.empty()) {
    *status = fail(result.status, result.error);
  } else {
    *status = print(result.out);
    if (*status == 0) *status = result.status;
  }
  return true;
}

// `teemm help [COMMAND]`: the tool's help (App::help() would give the help command's own), or a command's.
int print_help(const CLI::App& app, const std::string& topic) {
  if (topic.empty()) return print(app.get_formatter()->make_help(&app, "teemm", CLI::AppFormatMode::Normal));
  for (const char* name : {"map", "dump", "translate", "sim", "platform", "lint"})
    if (topic == name) return print(app.get_subcommand(name)->help("teemm"));
  return fail(kExitUsage, "unknown command '" + topic + "' (see teemm --help)");
}

// `teemm sim SCENARIO`: the replay's JSON on stdout (also when an expectation fails), one line on
// stderr for the failure.
int simulate(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  if (!file || !(text << file.rdbuf())) return fail(kExitUsage, "cannot read scenario '" + path + "'");
  const teemm::tool::sim::Outcome outcome = teemm::tool::sim::simulate(text.str(), path);
  if (!outcome.output.empty())
    if (const int status = print(outcome.output); status != 0) return status;
  return outcome.status == 0 ? 0 : fail(outcome.status, outcome.error);
}

int run(const Request& request, const std::string& command_line) {
  if (request.command == "sim") return simulate(request.scenario);
  if (int status = 0; run_dt_command(request, command_line, &status)) return status;
  std::vector<teemm::mm::Region> regions;
  teemm::platform::host::DtPlatform dt_platform;  // owns the names of a tree's regions
  std::string platform_name = request.platform;
  teemm::tool::SessionOptions options = request.options;
  if (request.dt.tree_given()) {
    const teemm::tool::CommandResult loaded = teemm::tool::load_dt_platform(request.dt, &dt_platform);
    if (loaded.status != 0) return fail(loaded.status, loaded.error);
    regions = dt_platform.regions;
    platform_name = teemm::tool::platform_label(request.dt);
    options.table_pages = teemm::tool::simulated_table_pages(dt_platform);
  } else if (!load_platform(request.platform, &regions)) {
    return fail(kExitUsage, "unknown platform '" + request.platform + "' (built in: qemu-virt)");
  }
  const teemm::tool::Session session(platform_name, regions, options);
  if (!session.ok()) return fail(kExitRefused, session.error());
  if (!request.svg.empty())
    if (std::string e = teemm::tool::write_map_svg(session, request.svg); !e.empty()) return fail(kExitRefused, e);

  std::string out;
  if (request.command == "map")
    out = request.json ? teemm::tool::render_map_json(session) : teemm::tool::render_map_text(session);
  else if (request.command == "dump")
    out = teemm::tool::render_dump(session);
  else
    out = request.json ? teemm::tool::render_translation_json(session, request.va)
                       : teemm::tool::render_translation_text(session, request.va);
  return print(out);
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine line;
  CLI::App app(kDescription, "teemm");
  define_commands(&app, &line);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success&) {  // --help: the help of the command it follows
    return print(app.help());
  } catch (const CLI::ArgumentMismatch& e) {
    // The one mismatch these options can meet: a value missing at the end ("--va-bits: 1 required N missing").
    const std::string what = e.what();
    const size_t colon = what.find(": ");
    return fail(kExitUsage, colon != std::string::npos && what.rfind("--", 0) == 0
                                ? what.substr(0, colon) + " needs a value"
                                : one_line(what));
  } catch (const CLI::ParseError& e) {
    return fail(kExitUsage, one_line(e.what()));
  }

  const std::vector<CLI::App*> chosen = app.get_subcommands();
  const CLI::App* command = chosen.empty() ? nullptr : chosen.front();
  if (std::string error = check_leftovers(app, command); !error.empty()) return fail(kExitUsage, error);
  if (command->get_name() == "help") return print_help(app, line.help_topic);
  Request request;
  if (std::string error = check_values(*command, line, &request); !error.empty()) return fail(kExitUsage, error);
  std::string command_line = "teemm";
  for (int i = 1; i < argc; ++i) command_line += std::string(" ") + argv[i];
  return run(request, command_line);
}
