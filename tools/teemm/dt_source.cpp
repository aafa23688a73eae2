// Device-tree platforms for the CLI (see dt_source.hpp).
#include "dt_source.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <vector>

#include "number.hpp"

namespace teemm::tool {
namespace {

namespace host = platform::host;
using Json = nlohmann::json;

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

// "PA,SIZE"-style option values: exactly `names.size()` numbers.
std::string parse_numbers(const char* option, const std::string& text, const std::vector<const char*>& names,
                          std::vector<uint64_t>* values) {
  const std::vector<std::string> parts = split_commas(text);
  std::string expected;
  for (const char* n : names) expected += (expected.empty() ? "" : ",") + std::string(n);
  if (parts.size() != names.size())
    return std::string("invalid value for ") + option + ": '" + text + "' (expected " + expected + ")";
  values->clear();
  for (const std::string& part : parts) {
    uint64_t value = 0;
    if (NumberError e = parse_number(part, &value); e != NumberError::kNone) return number_refusal(option, part, e);
    values->push_back(value);
  }
  return "";
}

bool wraps(uint64_t base, uint64_t size) { return size > 0 && size - 1 > UINT64_MAX - base; }

std::string check_range(const std::string& what, const host::RangeSpec& r) {
  if (r.size == 0) return what + ": the size must not be zero";
  if (wraps(r.pa, r.size)) return what + ": the range wraps past 2^64";
  return "";
}

std::string check_tee_ram(const std::string& what, const host::TeeRamSpec& t) {
  if (t.code == 0) return what + ": the code size must not be zero";
  if (t.rodata > UINT64_MAX - t.code || t.data > UINT64_MAX - t.code - t.rodata || wraps(t.pa, t.size()))
    return what + ": the range wraps past 2^64";
  return "";
}

// ---- The platform file --------------------------------------------------------------------------

// A number member: a JSON unsigned integer, or a string in the tool's number grammar.
std::string json_number(const std::string& where, const Json& value, uint64_t* out) {
  if (value.is_number_unsigned()) {
    *out = value.get<uint64_t>();
    return "";
  }
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (NumberError e = parse_number(text, out); e != NumberError::kNone) return number_refusal(where, text, e);
    return "";
  }
  return where + ": expected a number (an unsigned integer, or a string such as \"0x200000\")";
}

std::string json_members(const std::string& where, const Json& value, const std::vector<const char*>& names,
                         std::vector<uint64_t>* out) {
  if (!value.is_object()) return where + ": expected an object with " + std::to_string(names.size()) + " members";
  for (const auto& [key, member] : value.items()) {
    bool known = false;
    for (const char* n : names) known = known || key == n;
    if (!known) return where + ": unknown member '" + key + "'";
    (void)member;
  }
  out->clear();
  for (const char* n : names) {
    if (!value.contains(n)) return where + ": missing member '" + n + "'";
    uint64_t number = 0;
    if (std::string e = json_number(where + "." + n, value.at(n), &number); !e.empty()) return e;
    out->push_back(number);
  }
  return "";
}

std::string apply_json(const std::string& path, const Json& doc, host::PlatformSpec* spec) {
  if (!doc.is_object()) return path + ": expected a JSON object";
  for (const auto& [key, value] : doc.items()) {
    const std::string where = path + ": " + key;
    std::vector<uint64_t> v;
    if (key == "comment") continue;
    if (key == "tee_ram") {
      if (std::string e = json_members(where, value, {"pa", "code", "rodata", "data"}, &v); !e.empty()) return e;
      spec->tee_ram = host::TeeRamSpec{v[0], v[1], v[2], v[3]};
      if (std::string e = check_tee_ram(where, *spec->tee_ram); !e.empty()) return e;
    } else if (key == "ta_ram" || key == "nsec_shm" || key == "sdp") {
      if (std::string e = json_members(where, value, {"pa", "size"}, &v); !e.empty()) return e;
      const host::RangeSpec r{v[0], v[1]};
      if (std::string e = check_range(where, r); !e.empty()) return e;
      (key == "ta_ram" ? spec->ta_ram : key == "nsec_shm" ? spec->nsec_shm : spec->sdp) = r;
    } else if (key == "shm_vaspace" || key == "io_vaspace") {
      uint64_t size = 0;
      if (std::string e = json_number(where, value, &size); !e.empty()) return e;
      if (size == 0) return where + ": the size must not be zero";
      (key == "shm_vaspace" ? spec->shm_vaspace : spec->io_vaspace) = size;
    } else {
      return path + ": unknown member '" + key + "' (tee_ram, ta_ram, shm_vaspace, io_vaspace, nsec_shm, sdp, comment)";
    }
  }
  return "";
}

}  // namespace

std::string parse_platform_file(const std::string& path, host::PlatformSpec* spec) {
  std::ifstream in(path);
  if (!in) return path + ": cannot open";
  std::stringstream text;
  text << in.rdbuf();
  Json doc;
  try {
    doc = Json::parse(text.str());
  } catch (const Json::parse_error& e) {
    std::string what = e.what();  // "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
    const size_t bracket = what.find("] ");
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    return path + ": invalid JSON: " + what;
  }
  return apply_json(path, doc, spec);
}

std::string parse_platform_spec(const DtArguments& args, host::PlatformSpec* spec) {
  if (!args.platform_file.empty())
    if (std::string e = parse_platform_file(args.platform_file, spec); !e.empty()) return e;
  std::vector<uint64_t> v;
  if (!args.tee_ram.empty()) {
    if (std::string e = parse_numbers("--tee-ram", args.tee_ram, {"PA", "CODE", "RODATA", "DATA"}, &v); !e.empty())
      return e;
    spec->tee_ram = host::TeeRamSpec{v[0], v[1], v[2], v[3]};
    if (std::string e = check_tee_ram("--tee-ram", *spec->tee_ram); !e.empty()) return e;
  }
  const struct {
    const char* option;
    const std::string& text;
    std::optional<host::RangeSpec>& target;
  } ranges[] = {{"--ta-ram", args.ta_ram, spec->ta_ram},
                {"--nsec-shm", args.nsec_shm, spec->nsec_shm},
                {"--sdp", args.sdp, spec->sdp}};
  for (const auto& r : ranges) {
    if (r.text.empty()) continue;
    if (std::string e = parse_numbers(r.option, r.text, {"PA", "SIZE"}, &v); !e.empty()) return e;
    r.target = host::RangeSpec{v[0], v[1]};
    if (std::string e = check_range(r.option, *r.target); !e.empty()) return e;
  }
  const struct {
    const char* option;
    const std::string& text;
    std::optional<uint64_t>& target;
  } sizes[] = {{"--shm-vaspace", args.shm_vaspace, spec->shm_vaspace},
               {"--io-vaspace", args.io_vaspace, spec->io_vaspace}};
  for (const auto& s : sizes) {
    if (s.text.empty()) continue;
    uint64_t size = 0;
    if (NumberError e = parse_number(s.text, &size); e != NumberError::kNone)
      return number_refusal(s.option, s.text, e);
    if (size == 0) return std::string(s.option) + ": the size must not be zero";
    s.target = size;
  }
  return "";
}

std::string read_tree(const DtArguments& args, host::DeviceTree* tree) {
  host::DtReadResult result = args.dtb.empty() ? host::read_dts_file(args.dts) : host::read_dtb_file(args.dtb);
  if (!result.ok()) return result.error;
  *tree = std::move(result.tree);
  return "";
}

std::string describe_missing(const host::PlatformSpec& spec) {
  const std::vector<std::string> missing = host::missing_members(spec);
  if (missing.empty()) return "";
  std::string members;
  std::string options;
  for (const std::string& m : missing) {
    members += (members.empty() ? "" : ", ") + m;
    const char* option = m == "tee_ram"  ? "--tee-ram PA,CODE,RODATA,DATA"
                         : m == "ta_ram" ? "--ta-ram PA,SIZE"
                                         : "--shm-vaspace SIZE";
    options += (options.empty() ? "" : ", ") + std::string(option);
  }
  return "the device tree does not say " + members + ": give " + options + " (or the same members in --platform-file)";
}

std::string platform_label(const DtArguments& args) {
  const std::string& path = args.tree_path();
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace teemm::tool
