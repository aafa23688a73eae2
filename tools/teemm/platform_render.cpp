// Printing a derived platform as C++ (see platform_render.hpp).
#include "platform_render.hpp"

#include <cinttypes>
#include <cstdio>

namespace teemm::tool {
namespace {

// 0x1000, 0x0e10'0000, 0x0040'1000'0000: digits in groups of four, as the built-in tables write them.
std::string hex_literal(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof(text), "%" PRIx64, value);
  std::string digits = text;
  if (digits.size() <= 4) return "0x" + digits;
  digits.insert(0, (4 - digits.size() % 4) % 4, '0');
  std::string out = "0x";
  for (size_t i = 0; i < digits.size(); i += 4) out += (i == 0 ? "" : "'") + digits.substr(i, 4);
  return out;
}

// A C++ string literal (names come from the tree: escape what needs it).
std::string string_literal(const char* text) {
  std::string out = "\"";
  for (const char* c = text; *c != '\0'; ++c) {
    const unsigned char u = static_cast<unsigned char>(*c);
    if (*c == '"' || *c == '\\') {
      out += '\\';
      out += *c;
    } else if (u < 0x20 || u >= 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\%03o", u);
      out += escaped;
    } else {
      out += *c;
    }
  }
  return out + "\"";
}

// A comment line's text: no newline, no "*/".
std::string comment_text(const std::string& text) {
  std::string out;
  for (char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
  return out;
}

std::string region_initialiser(const mm::Region& r) {
  const std::string name = string_literal(r.name);
  const std::string type = std::string("mm::MemoryType::") + memory_type_enumerator(r.type);
  switch (r.kind) {
    case mm::RegionKind::kMapped:
      if (r.is_va_reservation())
        return "mm::va_reservation(" + name + ", " + type + ", " + hex_literal(r.size.bytes) + ")";
      return "mm::mapped_region(" + name + ", " + type + ", " + hex_literal(r.base.value) + ", " +
             hex_literal(r.size.bytes) + ")";
    case mm::RegionKind::kSecureDataPath:
      return "mm::sdp_region(" + name + ", " + hex_literal(r.base.value) + ", " + hex_literal(r.size.bytes) + ")";
    case mm::RegionKind::kNonSecureDdr:
      return "mm::nsec_ddr_region(" + name + ", " + hex_literal(r.base.value) + ", " + hex_literal(r.size.bytes) + ")";
    case mm::RegionKind::kOverallDdr:
      return "mm::ddr_region(" + name + ", " + hex_literal(r.base.value) + ", " + hex_literal(r.size.bytes) + ")";
    case mm::RegionKind::kDeviceIo:
      return "mm::device_region(" + name + ", " + type + ", " + hex_literal(r.base.value) + ", " +
             hex_literal(r.size.bytes) + ")";
  }
  return "";
}

}  // namespace

const char* memory_type_enumerator(mm::MemoryType type) {
  static const char* const kNames[mm::kMemoryTypeCount] = {
      "kTeeRam",     "kTeeRamRx",   "kTeeRamRo",  "kTeeRamRw",     "kTeeCoherent", "kTeeAsan",
      "kTaRam",      "kNsecShm",    "kRamNsec",   "kRamSec",       "kIoNsec",      "kIoSec",
      "kResVaspace", "kShmVaspace", "kTaVaspace", "kPagerVaspace", "kSdpMem",      "kDdrOverall"};
  return mm::is_valid_type(type) ? kNames[static_cast<unsigned>(type)] : "kInvalid";
}

std::string cpp_identifier(const std::string& file_name) {
  std::string stem = file_name;
  if (const size_t slash = stem.rfind('/'); slash != std::string::npos) stem = stem.substr(slash + 1);
  if (const size_t dot = stem.rfind('.'); dot != std::string::npos && dot > 0) stem = stem.substr(0, dot);
  std::string out;
  for (char c : stem) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out += word ? c : '_';
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out = "dt_" + out;
  return out;
}

std::string render_platform_cpp(const platform::host::DtPlatform& platform, const std::string& identifier,
                                const std::string& command) {
  std::string out;
  out += "// platform/builtin/" + identifier + ": derived from the device tree " + comment_text(platform.source);
  out += platform.model.empty() ? "\n" : " (model \"" + comment_text(platform.model) + "\")\n";
  out += "// by `" + comment_text(command) + "`.\n";
  out += "#pragma once\n\n#include <cstddef>\n#include <cstdint>\n\n#include \"mm/phys_mem_registry.hpp\"\n\n";
  out += "namespace teemm::platform::" + identifier + " {\n\n";
  out += "inline constexpr mm::Region kRegions[] = {\n";
  for (size_t i = 0; i < platform.regions.size(); ++i) {
    out += "    " + region_initialiser(platform.regions[i]) + ",";
    const std::string& origin = platform.origins[i];
    if (!origin.empty()) out += "  // " + comment_text(origin);
    out += "\n";
  }
  out += "};\n";
  out += "inline constexpr size_t kRegionCount = sizeof(kRegions) / sizeof(kRegions[0]);\n\n";
  out += "static_assert(mm::validate_regions(kRegions, kRegionCount).ok(), \"" + identifier +
         " platform table is invalid\");\n\n";
  out += "}  // namespace teemm::platform::" + identifier + "\n";
  return out;
}

}  // namespace teemm::tool
