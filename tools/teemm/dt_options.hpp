// tools/teemm/dt_options: the command-line options of the device-tree commands, on CLI11.
// Header-only and included by main.cpp alone (the host library does not link CLI11).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "dt_source.hpp"

namespace teemm::tool {

// --dtb, --dts, --platform-file and what they cannot say: every command that builds a platform.
inline void add_dt_options(CLI::App* command, DtArguments* args) {
  command->add_option("--dtb", args->dtb, "derive the platform from a flattened device tree")->type_name("FILE");
  command->add_option("--dts", args->dts, "the same from device-tree source (compiled with dtc)")->type_name("FILE");
  command->add_option("--platform-file", args->platform_file, "what the tree cannot say, as JSON")->type_name("FILE");
  command->add_option("--tee-ram", args->tee_ram, "TEE RAM at PA: code, read-only data, data sizes")
      ->option_text("PA,CODE,RODATA,DATA");
  command->add_option("--ta-ram", args->ta_ram, "TA RAM")->option_text("PA,SIZE");
  command->add_option("--shm-vaspace", args->shm_vaspace, "VA reserved for dynamic shared memory")->type_name("SIZE");
  command->add_option("--io-vaspace", args->io_vaspace, "VA reserved for ioremap (default: none)")->type_name("SIZE");
  command->add_option("--nsec-shm", args->nsec_shm, "static SHM (instead of the tree's optee_shm)")
      ->option_text("PA,SIZE");
  command->add_option("--sdp", args->sdp, "secure-data-path memory")->option_text("PA,SIZE");
}

// `teemm platform` and `teemm lint`. `json` is the shared --json flag; lint also takes the layout
// options (`va_bits`, `va_offset`, as text).
inline std::vector<CLI::App*> add_dt_commands(CLI::App* app, DtArguments* args, bool* json, std::string* va_bits,
                                              std::string* va_offset) {
  CLI::App* platform =
      app->add_subcommand("platform", "the platform a device tree gives, as C++ mm::Region initialisers");
  add_dt_options(platform, args);
  CLI::App* lint = app->add_subcommand("lint", "what is wrong with a device tree as a TEE platform");
  add_dt_options(lint, args);
  lint->add_option("--va-bits", *va_bits, "VA space size in bits, 25..48 (default: 39)")->type_name("N");
  lint->add_option("--va-offset", *va_offset, "map physical regions at PA + X, a 4 KiB multiple (default: 0)")
      ->type_name("X");
  lint->add_flag("--json", *json, "machine-readable output");
  return {platform, lint};
}

}  // namespace teemm::tool
