// Reading scenarios (see scenario.hpp and docs/SCENARIOS.md). One parser with one method per step kind
// and per block of the format: long because the format is wide, not because it does several jobs;
// the names a scenario may use live in scenario_symbols.cpp.
#include "scenario.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>
#include <string_view>

#include "number.hpp"
#include "optee/abi.hpp"
#include "optee/service.hpp"
#include "session.hpp"

namespace teemm::tool::sim {
namespace {

using Json = nlohmann::json;

// Bounds a scenario may ask for: enough for any real case, small enough for a host run.
constexpr uint64_t kMaxThreads = 1024;             // resume tokens carry a 16-bit thread index
constexpr uint64_t kMaxCount = uint64_t{1} << 20;  // values in one write, pages in one list
// Host storage the secure world is built with: at most about 64 MiB each.
constexpr uint64_t kMaxSessions = 65536;
constexpr uint64_t kMaxObjects = 262144;
constexpr uint64_t kMaxTablePages = 16384;
constexpr uint64_t kMaxDynamicRanges = 65536;
constexpr uint64_t kMaxDataBytes = uint64_t{64} << 20;
constexpr uint64_t kMaxPages = uint64_t{1} << 20;
constexpr uint64_t kMaxParamsWritten = (kPageSize - optee::kMsgHeaderSize) / optee::kMsgParamSize;  // 127
constexpr uint64_t kU32 = 0xFFFFFFFF;
constexpr uint64_t kU16 = 0xFFFF;

[[noreturn]] void fail(const std::string& message) { throw ScenarioError{2, message}; }

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string prefix(const std::string& path) { return path.empty() ? "" : path + ": "; }

const char* type_of(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "an array";
    case Json::value_t::string: return "a string";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::binary: return "binary data";
    case Json::value_t::discarded: return "nothing";
    default: return "a number";
  }
}

// The members of one JSON object: each key read at most once, and any key left unread at the end
// is a typo, reported by finish().
class Fields {
 public:
  Fields(const Json& object, std::string path) : object_(object), path_(std::move(path)) {
    if (!object.is_object()) fail(prefix(path_) + "expected an object, got " + type_of(object));
  }
  const Json* get(std::string_view key) {
    const auto it = object_.find(key);
    if (it == object_.end()) return nullptr;
    used_.insert(std::string(key));
    return &*it;
  }
  const Json& need(std::string_view key) {
    const Json* value = get(key);
    if (value == nullptr) fail(prefix(path_) + "missing '" + std::string(key) + "'");
    return *value;
  }
  bool has(std::string_view key) const { return object_.contains(key); }
  std::string path(std::string_view key) const { return join(path_, key); }
  const std::string& path() const { return path_; }
  void finish() const {
    for (const auto& [key, value] : object_.items())
      if (used_.count(key) == 0) fail(prefix(path_) + "unknown key '" + key + "'");
  }

 private:
  const Json& object_;
  std::string path_;
  std::set<std::string> used_;
};

// ---- Reading values -----------------------------------------------------------------------------------
bool is_identifier(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

bool is_answer_register(std::string_view name) {
  return name.size() == 2 && name[0] == 'a' && name[1] >= '0' && name[1] <= '3';
}
bool is_register_name(std::string_view name) {
  return name.size() == 2 && name[0] == 'a' && name[1] >= '0' && name[1] <= '7';
}

// One term of a number: digits in the CLI's grammar, or an ABI name.
uint64_t term_value(const std::string& path, const std::string& term) {
  if (term.empty() || std::isdigit(static_cast<unsigned char>(term[0]))) {
    uint64_t value = 0;
    const NumberError error = parse_number(term, &value);
    if (error != NumberError::kNone) fail(number_refusal(path, term, error));
    return value;
  }
  const std::optional<uint64_t> value = symbol_value(term);
  if (!value) fail(path + ": unknown name '" + term + "'");
  return *value;
}

class Parser {
 public:
  Scenario parse(const Json& root);

 private:
  // A number at `path`, at most `max`; references allowed unless `literal_only`.
  Value value(const Json& j, const std::string& path, uint64_t max = UINT64_MAX, bool literal_only = false);
  std::optional<Value> optional_value(Fields& f, std::string_view key, uint64_t max = UINT64_MAX);
  Value value_or(Fields& f, std::string_view key, uint64_t fallback, uint64_t max = UINT64_MAX);
  uint64_t literal(Fields& f, std::string_view key, uint64_t fallback, uint64_t min, uint64_t max);
  bool boolean(const Json& j, const std::string& path);
  std::string text(const Json& j, const std::string& path);

  Config config(const Json& j);
  Step step(const Json& j, size_t number);
  void step_body(Step& s, const Json& body);
  void data(Fields& f, Data& d);
  std::vector<PageItem> pages(const Json& j, const std::string& path);
  void message_fields(Fields& f, MessageSpec& m, bool with_header);
  std::vector<ParamSpec> params(const Json& j, const std::string& path, uint64_t max_count);
  void expectation(Fields& f, Expectation& e, bool registers);
  void saves(const Json& j, Step& s);
  Source source(const std::string& text, const std::string& path);
  void state_checks(const Json& j, Step& s);
  void usage_checks(const Json& j, const std::string& path, const std::string& pointer, Step& s,
                    std::initializer_list<const char*> keys);
  void uuid(Fields& f, std::string_view key, Value& a, Value& b, bool required);

  // References a step uses, checked once the step is read: each must be saved by an earlier step.
  std::vector<std::pair<std::string, std::string>> refs_;  // name, path
  std::set<std::string> saved_;
  bool answered_ = false;  // an earlier step made an SMC, so $a0..$a3 mean something
};

Value Parser::value(const Json& j, const std::string& path, uint64_t max, bool literal_only) {
  Value v;
  std::string shown;
  if (j.is_number_unsigned()) {
    v.literal = j.get<uint64_t>();
    shown = std::to_string(v.literal);
  } else if (j.is_number_integer()) {
    fail(path + ": negative number " + j.dump());
  } else if (j.is_number_float()) {
    fail(path + ": invalid number " + j.dump() + " (integers only, at most 2^64-1)");
  } else if (j.is_string()) {
    shown = j.get<std::string>();
    if (!shown.empty() && shown[0] == '$') {
      const std::string name = shown.substr(1);
      if (literal_only) fail(path + ": a reference ('" + shown + "') cannot be used here");
      if (!is_identifier(name)) fail(path + ": invalid reference '" + shown + "'");
      if (is_register_name(name) && !is_answer_register(name))
        fail(path + ": invalid reference '" + shown + "' (answers have a0..a3)");
      v.ref = name;
      refs_.emplace_back(name, path);
      return v;
    }
    uint64_t result = 0;
    size_t start = 0;
    for (;;) {
      const size_t bar = shown.find('|', start);
      result |= term_value(path, shown.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
      if (bar == std::string::npos) break;
      start = bar + 1;
    }
    v.literal = result;
  } else {
    fail(path + ": expected a number, got " + type_of(j));
  }
  if (v.literal > max) fail(path + ": '" + shown + "' is out of range (at most " + hex_address(max) + ")");
  return v;
}

std::optional<Value> Parser::optional_value(Fields& f, std::string_view key, uint64_t max) {
  const Json* j = f.get(key);
  if (j == nullptr) return std::nullopt;
  return value(*j, f.path(key), max);
}

Value Parser::value_or(Fields& f, std::string_view key, uint64_t fallback, uint64_t max) {
  const Json* j = f.get(key);
  if (j == nullptr) return Value{fallback, ""};
  return value(*j, f.path(key), max);
}

uint64_t Parser::literal(Fields& f, std::string_view key, uint64_t fallback, uint64_t min, uint64_t max) {
  const Json* j = f.get(key);
  if (j == nullptr) return fallback;
  const uint64_t v = value(*j, f.path(key), max, true).literal;
  if (v < min) fail(f.path(key) + ": must be at least " + std::to_string(min));
  return v;
}

bool Parser::boolean(const Json& j, const std::string& path) {
  if (!j.is_boolean()) fail(path + ": expected true or false, got " + type_of(j));
  return j.get<bool>();
}

std::string Parser::text(const Json& j, const std::string& path) {
  if (!j.is_string()) fail(path + ": expected a string, got " + type_of(j));
  return j.get<std::string>();
}

// ---- The document -----------------------------------------------------------------------------------
Scenario Parser::parse(const Json& root) {
  Scenario scenario;
  if (!root.is_object()) fail(std::string("expected an object with 'steps', got ") + type_of(root));
  Fields f(root, "scenario");
  if (const Json* d = f.get("description")) scenario.description = text(*d, "description");
  if (const Json* c = f.get("config")) scenario.config = config(*c);
  const Json& steps = f.need("steps");
  f.finish();
  if (!steps.is_array()) fail(std::string("steps: expected an array, got ") + type_of(steps));
  for (size_t i = 0; i < steps.size(); ++i) scenario.steps.push_back(step(steps[i], i + 1));
  return scenario;
}

Config Parser::config(const Json& j) {
  Config c;
  Fields f(j, "config");
  if (const Json* p = f.get("platform"); p != nullptr && text(*p, "config.platform") != "qemu-virt")
    fail("config.platform: unknown platform '" + p->get<std::string>() + "' (built in: qemu-virt)");
  if (const Json* v = f.get("virtualization")) c.dispatcher.virtualization = boolean(*v, "config.virtualization");
  c.threads = literal(f, "threads", c.threads, 1, kMaxThreads);
  c.guests = literal(f, "guests", c.guests, 1, kU16);
  c.sessions = literal(f, "sessions", c.sessions, 1, kMaxSessions);
  c.objects = literal(f, "objects", c.objects, 1, kMaxObjects);
  c.max_buffer_pages = literal(f, "max_buffer_pages", c.max_buffer_pages, 1, kMaxPages);
  c.table_pages = literal(f, "table_pages", c.table_pages, 1, kMaxTablePages);
  c.dynamic_ranges = literal(f, "dynamic_ranges", c.dynamic_ranges, 1, kMaxDynamicRanges);
  if (const Json* q = f.get("quota")) {
    Fields quota(*q, "config.quota");
    virt::Quota& out = c.dispatcher.quota;
    out.buffers = static_cast<uint32_t>(literal(quota, "buffers", out.buffers, 0, kU32));
    out.pages = literal(quota, "pages", out.pages, 0, UINT64_MAX);
    out.threads = static_cast<uint32_t>(literal(quota, "threads", out.threads, 0, kU32));
    quota.finish();
  }
  if (const Json* r = f.get("reserved_shm")) {
    Fields shm(*r, "config.reserved_shm");
    shm.need("pa");
    shm.need("size");
    c.dispatcher.reserved_shm = PhysAddr(literal(shm, "pa", 0, 0, UINT64_MAX));
    c.dispatcher.reserved_shm_size = literal(shm, "size", 0, 1, UINT64_MAX);
    shm.finish();
  }
  f.finish();
  return c;
}

struct KindName {
  const char* name;
  StepKind kind;
};
constexpr KindName kKinds[] = {
    {"write", StepKind::kWrite},
    {"page_list", StepKind::kPageList},
    {"message", StepKind::kMessage},
    {"smc", StepKind::kSmc},
    {"call", StepKind::kCall},
    {"register_shm", StepKind::kRegisterShm},
    {"unregister_shm", StepKind::kUnregisterShm},
    {"open_session", StepKind::kOpenSession},
    {"invoke", StepKind::kInvoke},
    {"close_session", StepKind::kCloseSession},
    {"return_from_rpc", StepKind::kReturnFromRpc},
    {"vm_created", StepKind::kVmCreated},
    {"vm_destroyed", StepKind::kVmDestroyed},
    {"set_quota", StepKind::kSetQuota},
    {"expect_memory", StepKind::kExpectMemory},
    {"expect_message", StepKind::kExpectMessage},
    {"expect_state", StepKind::kExpectState},
};

// "step 4 (its name)", "step 4 (its kind)", or "step 4" when it has neither.
std::string step_label(const Json& j, size_t number) {
  std::string label = "step " + std::to_string(number);
  if (!j.is_object()) return label;
  if (const auto it = j.find("name"); it != j.end() && it->is_string())
    return label + " (" + it->get<std::string>() + ")";
  for (const KindName& k : kKinds)
    if (j.contains(k.name)) return label + " (" + k.name + ")";
  return label;
}

std::string kind_list() {
  std::string out;
  for (const KindName& k : kKinds) out += std::string(out.empty() ? "" : ", ") + k.name;
  return out;
}

Step Parser::step(const Json& j, size_t number) {
  Step s;
  s.number = number;
  s.kind_name = "?";
  refs_.clear();
  try {
    if (!j.is_object()) fail(std::string("expected an object, got ") + type_of(j));
    if (const auto it = j.find("name"); it != j.end()) s.name = text(*it, "name");
    const Json* body = nullptr;
    for (const KindName& k : kKinds) {
      const auto it = j.find(k.name);
      if (it == j.end()) continue;
      if (body != nullptr) fail("one kind per step: both '" + s.kind_name + "' and '" + k.name + "'");
      body = &*it;
      s.kind = k.kind;
      s.kind_name = k.name;
    }
    if (body == nullptr) {
      for (const auto& [key, value] : j.items())
        if (key != "name" && key != "expect" && key != "save") fail("unknown key '" + key + "'");
      fail("no step kind (one of: " + kind_list() + ")");
    }
    Fields f(j, "");
    f.get("name");
    f.get(s.kind_name);
    step_body(s, *body);
    if (const Json* e = f.get("expect")) {
      if (!makes_smc(s.kind)) fail("expect: only steps that make an SMC have an answer to expect");
      Fields ef(*e, "expect");
      expectation(ef, s.expect, true);
      ef.finish();
      if (s.expect.any_message() && (s.kind == StepKind::kVmCreated || s.kind == StepKind::kVmDestroyed))
        fail("expect: " + s.kind_name + " has no message");
    }
    if (const Json* v = f.get("save")) {
      if (!makes_smc(s.kind)) fail("save: only steps that make an SMC have an answer to save");
      saves(*v, s);
    }
    f.finish();
    // A fast call answers in registers only: a message to check is a mistake seen now, not after the SMC.
    const bool reads_message = s.expect.any_message() || std::any_of(s.saves.begin(), s.saves.end(), [](const Save& v) {
                                 return v.source.kind != Source::Kind::kRegister;
                               });
    const uint32_t function = static_cast<uint32_t>(s.regs[0].literal);
    if (s.kind == StepKind::kSmc && reads_message && !s.regs[0].is_ref() && function != optee::kCallWithArg &&
        function != optee::kReturnFromRpc)
      fail("smc: a fast call has no message to expect or save from (only CALL_WITH_ARG and RETURN_FROM_RPC have one)");
    for (const auto& [name, path] : refs_) {
      if (is_answer_register(name) ? !answered_ : saved_.count(name) == 0)
        fail(path + ": '$" + name + "' is not " +
             (is_answer_register(name) ? "defined: no SMC before this step" : "saved by an earlier step"));
    }
  } catch (ScenarioError& e) {
    e.message = step_label(j, number) + ": " + e.message;
    throw;
  }
  if (makes_smc(s.kind)) answered_ = true;
  for (const Save& save : s.saves) saved_.insert(save.name);
  return s;
}

void Parser::step_body(Step& s, const Json& body) {
  const std::string& k = s.kind_name;
  // The two single-number kinds.
  if (s.kind == StepKind::kVmCreated || s.kind == StepKind::kVmDestroyed) {
    s.guest = value(body, k, kU16);
    return;
  }
  Fields f(body, k);
  switch (s.kind) {
    case StepKind::kWrite:
    case StepKind::kExpectMemory:
      s.at = value(f.need("pa"), f.path("pa"));
      data(f, s.data);
      break;
    case StepKind::kPageList:
      s.at = value(f.need("at"), f.path("at"));
      s.pages = pages(f.need("pages"), f.path("pages"));
      s.has_pages = true;
      break;
    case StepKind::kMessage:
      s.at = value(f.need("at"), f.path("at"));
      message_fields(f, s.message, true);
      break;
    case StepKind::kSmc: {
      f.need("a0");
      for (unsigned r = 0; r < 8; ++r) s.regs[r] = value_or(f, "a" + std::to_string(r), 0);
      break;
    }
    case StepKind::kCall:
      s.guest = value_or(f, "guest", 0, kU16);
      s.at = optional_value(f, "at");
      message_fields(f, s.message, true);
      break;
    case StepKind::kRegisterShm:
      s.guest = value_or(f, "guest", 0, kU16);
      s.at = optional_value(f, "at");
      s.cookie = value(f.need("cookie"), f.path("cookie"));
      if (const Json* p = f.get("pages")) {
        s.pages = pages(*p, f.path("pages"));
        s.has_pages = true;
      } else if (!f.has("size")) {
        fail(k + ": 'size' is needed when 'pages' is not given (the list is already at 'list_at')");
      }
      s.offset = value_or(f, "offset", 0, kPageMask);
      s.size = optional_value(f, "size");
      s.list_at = value_or(f, "list_at", 0x4100'0000);
      s.attr = value_or(f, "attr", optee::kAttrTmemOutput | optee::kAttrNonContig);
      break;
    case StepKind::kUnregisterShm:
      s.guest = value_or(f, "guest", 0, kU16);
      s.at = optional_value(f, "at");
      s.cookie = value(f.need("cookie"), f.path("cookie"));
      break;
    case StepKind::kOpenSession: {
      s.guest = value_or(f, "guest", 0, kU16);
      s.at = optional_value(f, "at");
      s.message.cmd.literal = optee::kCmdOpenSession;
      ParamSpec service, client;
      service.attr.literal = client.attr.literal = optee::kAttrValueInput | optee::kAttrMeta;
      uuid(f, "uuid", service.a, service.b, true);
      uuid(f, "client_uuid", client.a, client.b, false);
      client.c = value_or(f, "login", 0);
      s.message.params = {service, client};
      if (const Json* p = f.get("params")) {
        const std::vector<ParamSpec> user = params(*p, f.path("params"), optee::kMaxParams - 2);
        s.message.params.insert(s.message.params.end(), user.begin(), user.end());
      }
      break;
    }
    case StepKind::kInvoke:
      s.guest = value_or(f, "guest", 0, kU16);
      s.at = optional_value(f, "at");
      s.message.cmd.literal = optee::kCmdInvokeCommand;
      s.message.session = value(f.need("session"), f.path("session"), kU32);
      s.message.func = value(f.need("func"), f.path("func"), kU32);
      if (const Json* p = f.get("params")) s.message.params = params(*p, f.path("params"), kMaxParamsWritten);
      break;
    case StepKind::kCloseSession:
      s.guest = value_or(f, "guest", 0, kU16);
      s.at = optional_value(f, "at");
      s.message.cmd.literal = optee::kCmdCloseSession;
      s.message.session = value(f.need("session"), f.path("session"), kU32);
      break;
    case StepKind::kReturnFromRpc:
      s.guest = value_or(f, "guest", 0, kU16);
      s.token = optional_value(f, "token");
      s.rpc_pa = optional_value(f, "pa");
      s.rpc_cookie = optional_value(f, "cookie");
      if (!s.token) {
        s.token = Value{0, "a3"};
        refs_.emplace_back("a3", f.path("token"));
      }
      break;
    case StepKind::kSetQuota:
      s.guest = value(f.need("guest"), f.path("guest"), kU16);
      s.quota_buffers = optional_value(f, "buffers", kU32);
      s.quota_pages = optional_value(f, "pages");
      s.quota_threads = optional_value(f, "threads", kU32);
      break;
    case StepKind::kExpectMessage:
      s.at = value(f.need("at"), f.path("at"));
      expectation(f, s.expect, false);
      break;
    case StepKind::kExpectState: state_checks(body, s); return;
    default: break;
  }
  f.finish();
}

void Parser::uuid(Fields& f, std::string_view key, Value& a, Value& b, bool required) {
  const Json* j = required ? &f.need(key) : f.get(key);
  if (j == nullptr) return;
  const std::string t = text(*j, f.path(key));
  if (!parse_uuid(t, &a.literal, &b.literal))
    fail(f.path(key) + ": invalid UUID '" + t + "' (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
}

void Parser::data(Fields& f, Data& d) {
  const char* forms[] = {"u64", "u32", "bytes", "pattern", "fill"};
  const char* chosen = nullptr;
  for (const char* form : forms) {
    if (!f.has(form)) continue;
    if (chosen != nullptr)
      fail(f.path() + ": one of u64, u32, bytes, pattern, fill: both '" + chosen + "' and '" + form + "'");
    chosen = form;
  }
  if (chosen == nullptr) fail(f.path() + ": missing the data: one of u64, u32, bytes, pattern, fill");
  const std::string form = chosen;
  const Json& j = f.need(form);
  const std::string path = f.path(form);
  if (form == "u64" || form == "u32") {
    d.kind = form == "u64" ? Data::Kind::kU64 : Data::Kind::kU32;
    if (!j.is_array()) fail(path + ": expected an array, got " + type_of(j));
    if (j.empty()) fail(path + ": empty");
    if (j.size() > kMaxCount) fail(path + ": more than " + std::to_string(kMaxCount) + " values");
    for (size_t i = 0; i < j.size(); ++i)
      d.words.push_back(value(j[i], path + "[" + std::to_string(i) + "]", form == "u64" ? UINT64_MAX : kU32));
  } else if (form == "bytes") {
    d.kind = Data::Kind::kBytes;
    std::string t = text(j, path);
    std::string digits;
    for (size_t i = (t.rfind("0x", 0) == 0 ? 2 : 0); i < t.size(); ++i) {
      if (t[i] == ' ' || t[i] == '_') continue;
      if (!std::isxdigit(static_cast<unsigned char>(t[i]))) fail(path + ": invalid hex byte string '" + t + "'");
      digits += t[i];
    }
    if (digits.empty() || digits.size() % 2 != 0)
      fail(path + ": invalid hex byte string '" + t + "' (two hex digits per byte)");
    if (digits.size() / 2 > kMaxDataBytes) fail(path + ": too many bytes");
    for (size_t i = 0; i < digits.size(); i += 2)
      d.bytes.push_back(static_cast<unsigned char>(std::stoul(digits.substr(i, 2), nullptr, 16)));
  } else {
    d.kind = form == "pattern" ? Data::Kind::kPattern : Data::Kind::kFill;
    Fields p(j, path);
    d.seed = form == "pattern" ? value(p.need("seed"), p.path("seed")) : value(p.need("byte"), p.path("byte"), 0xFF);
    d.count = value(p.need("count"), p.path("count"), kMaxDataBytes);
    p.finish();
  }
}

std::vector<PageItem> Parser::pages(const Json& j, const std::string& path) {
  if (!j.is_array()) fail(path + ": expected an array, got " + type_of(j));
  if (j.empty()) fail(path + ": empty");
  std::vector<PageItem> items;
  uint64_t total = 0;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string at = path + "[" + std::to_string(i) + "]";
    PageItem item;
    if (j[i].is_object()) {
      Fields run(j[i], at);
      item.first = value(run.need("first"), run.path("first"));
      item.count = value(run.need("count"), run.path("count"), kMaxPages);
      item.stride = value_or(run, "stride", kPageSize);
      run.finish();
      total += item.count->is_ref() ? 0 : item.count->literal;
    } else {
      item.first = value(j[i], at);
      ++total;
    }
    if (total > kMaxPages) fail(path + ": more than " + std::to_string(kMaxPages) + " pages");
    items.push_back(item);
  }
  return items;
}

void Parser::message_fields(Fields& f, MessageSpec& m, bool with_header) {
  if (with_header) {
    m.cmd = value_or(f, "cmd", 0, kU32);
    m.func = value_or(f, "func", 0, kU32);
    m.session = value_or(f, "session", 0, kU32);
    m.cancel_id = value_or(f, "cancel_id", 0, kU32);
    m.ret = value_or(f, "ret", 0, kU32);
    m.origin = value_or(f, "origin", 0, kU32);
    m.num_params = optional_value(f, "num_params", kU32);
  }
  if (const Json* p = f.get("params")) m.params = params(*p, f.path("params"), kMaxParamsWritten);
}

std::vector<ParamSpec> Parser::params(const Json& j, const std::string& path, uint64_t max_count) {
  if (!j.is_array()) fail(path + ": expected an array, got " + type_of(j));
  if (j.size() > max_count) fail(path + ": more than " + std::to_string(max_count) + " parameters");
  std::vector<ParamSpec> out;
  for (size_t i = 0; i < j.size(); ++i) {
    Fields p(j[i], path + "[" + std::to_string(i) + "]");
    ParamSpec spec;
    spec.attr = value(p.need("attr"), p.path("attr"));
    spec.a = value_or(p, "a", 0);
    spec.b = value_or(p, "b", 0);
    spec.c = value_or(p, "c", 0);
    p.finish();
    out.push_back(spec);
  }
  return out;
}

constexpr const char* kFieldNames[] = {"cmd", "func", "session", "cancel_id", "ret", "origin", "num_params"};
constexpr const char* kParamFieldNames[] = {"attr", "a", "b", "c"};

void Parser::expectation(Fields& f, Expectation& e, bool registers) {
  if (registers)
    for (unsigned r = 0; r < 4; ++r) e.reg[r] = optional_value(f, "a" + std::to_string(r));
  for (unsigned i = 0; i < 7; ++i) e.field[i] = optional_value(f, kFieldNames[i], kU32);
  if (const Json* p = f.get("params")) {
    const std::string path = f.path("params");
    if (!p->is_array()) fail(path + ": expected an array, got " + type_of(*p));
    if (p->size() > kMaxParamsWritten) fail(path + ": more than " + std::to_string(kMaxParamsWritten) + " parameters");
    for (size_t i = 0; i < p->size(); ++i) {
      if ((*p)[i].is_null()) {
        e.params.emplace_back();
        continue;
      }
      Fields pf((*p)[i], path + "[" + std::to_string(i) + "]");
      ParamExpect pe;
      for (unsigned k = 0; k < 4; ++k) pe.field[k] = optional_value(pf, kParamFieldNames[k]);
      pf.finish();
      e.params.push_back(pe);
    }
  }
}

void Parser::saves(const Json& j, Step& s) {
  if (!j.is_object()) fail(std::string("save: expected an object of name: source, got ") + type_of(j));
  for (const auto& [name, from] : j.items()) {
    const std::string path = "save." + name;
    if (!is_identifier(name)) fail("save: invalid name '" + name + "' (letters, digits and _)");
    if (is_register_name(name)) fail("save: '" + name + "' is a register's name");
    Save save;
    save.name = name;
    save.source = source(text(from, path), path);
    if (save.source.kind != Source::Kind::kRegister &&
        (s.kind == StepKind::kVmCreated || s.kind == StepKind::kVmDestroyed))
      fail(path + ": " + s.kind_name + " has no message");
    s.saves.push_back(save);
  }
}

Source Parser::source(const std::string& t, const std::string& path) {
  Source src;
  src.text = t;
  if (is_answer_register(t)) {
    src.kind = Source::Kind::kRegister;
    src.index = static_cast<unsigned>(t[1] - '0');
    return src;
  }
  for (unsigned i = 0; i < 7; ++i) {
    if (t != kFieldNames[i]) continue;
    src.kind = Source::Kind::kField;
    src.index = i;
    return src;
  }
  // params[N].field
  const size_t close = t.find("].");
  if (t.rfind("params[", 0) == 0 && close != std::string::npos) {
    uint64_t n = 0;
    const std::string field = t.substr(close + 2);
    if (parse_number(t.substr(7, close - 7), &n) == NumberError::kNone && n < kMaxParamsWritten) {
      for (unsigned k = 0; k < 4; ++k) {
        if (field != kParamFieldNames[k]) continue;
        src.kind = Source::Kind::kParam;
        src.index = static_cast<unsigned>(n);
        src.param_field = static_cast<ParamField>(k);
        return src;
      }
    }
  }
  fail(path + ": unknown source '" + t + "' (a0..a3, cmd, func, session, cancel_id, ret, origin, num_params, " +
       "params[N].attr|a|b|c)");
}

// ---- expect_state ---------------------------------------------------------------------------------------
void Parser::usage_checks(const Json& j, const std::string& path, const std::string& pointer, Step& s,
                          std::initializer_list<const char*> keys) {
  Fields f(j, path);
  for (const char* key : keys) {
    const Json* v = f.get(key);
    if (v == nullptr) continue;
    StateCheck check;
    check.path = f.path(key);
    check.pointer = pointer + "/" + key;
    check.number = value(*v, check.path);
    s.state_checks.push_back(check);
  }
  f.finish();
}

void Parser::state_checks(const Json& j, Step& s) {
  Fields f(j, "expect_state");
  const auto number = [&](const char* key) {
    const Json* v = f.get(key);
    if (v == nullptr) return;
    StateCheck check;
    check.path = f.path(key);
    check.pointer = std::string("/") + key;
    check.number = value(*v, check.path);
    s.state_checks.push_back(check);
  };
  const auto list = [&](const Json& v, const std::string& path, const std::string& pointer) {
    StateCheck check;
    check.path = path;
    check.pointer = pointer;
    if (v.is_array()) {
      check.kind = StateCheck::Kind::kList;
      for (size_t i = 0; i < v.size(); ++i) check.list.push_back(value(v[i], path + "[" + std::to_string(i) + "]"));
    } else {
      check.kind = StateCheck::Kind::kCount;
      check.number = value(v, path);
    }
    s.state_checks.push_back(check);
  };
  if (const Json* guests = f.get("guests")) {
    if (!guests->is_object())
      fail("expect_state.guests: expected an object of guest id: guest, got " + std::string(type_of(*guests)));
    for (const auto& [key, guest] : guests->items()) {
      uint64_t id = 0;
      const std::string path = "expect_state.guests." + key;
      if (parse_number(key, &id) != NumberError::kNone || id > kU16)
        fail("expect_state.guests: invalid guest id '" + key + "'");
      const std::string pointer = "/guests/" + std::to_string(id);
      if (guest.is_null()) {
        StateCheck check;
        check.kind = StateCheck::Kind::kAbsent;
        check.path = path;
        check.pointer = pointer;
        s.state_checks.push_back(check);
        continue;
      }
      Fields g(guest, path);
      if (const Json* o = g.get("objects")) list(*o, g.path("objects"), pointer + "/objects");
      if (const Json* n = g.get("sessions")) {
        StateCheck check;
        check.path = g.path("sessions");
        check.pointer = pointer + "/sessions";
        check.number = value(*n, check.path);
        s.state_checks.push_back(check);
      }
      if (const Json* u = g.get("usage"))
        usage_checks(*u, g.path("usage"), pointer + "/usage", s, {"buffers", "pages", "threads"});
      if (const Json* q = g.get("quota"))
        usage_checks(*q, g.path("quota"), pointer + "/quota", s, {"buffers", "pages", "threads"});
      g.finish();
    }
  }
  if (const Json* live = f.get("live_guests")) {
    if (!live->is_array())
      fail("expect_state.live_guests: expected an array of guest ids, got " + std::string(type_of(*live)));
    list(*live, "expect_state.live_guests", "/live_guests");
  }
  number("objects");
  if (const Json* shm = f.get("shm"))
    usage_checks(*shm, "expect_state.shm", "/shm", s, {"ranges", "pages", "va_in_use"});
  if (const Json* io = f.get("io")) usage_checks(*io, "expect_state.io", "/io", s, {"ranges", "pages", "va_in_use"});
  if (const Json* ranges = f.get("ranges")) {
    StateCheck check;
    check.kind = StateCheck::Kind::kCount;
    check.path = "expect_state.ranges";
    check.pointer = "/ranges";
    check.number = value(*ranges, check.path);
    s.state_checks.push_back(check);
  }
  number("table_pages");
  number("pa_index_runs");
  if (const Json* t = f.get("threads"))
    usage_checks(*t, "expect_state.threads", "/threads", s, {"free", "running", "suspended"});
  if (const Json* a = f.get("audit")) {
    StateCheck check;
    check.kind = StateCheck::Kind::kBool;
    check.path = "expect_state.audit";
    check.pointer = "/audit";
    check.flag = boolean(*a, check.path);
    s.state_checks.push_back(check);
  }
  f.finish();
  if (s.state_checks.empty()) fail("expect_state: nothing to check");
}

// Duplicate keys are typos too (nlohmann keeps the last silently): found while parsing.
class DuplicateKeys {
 public:
  bool operator()(int, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        element();
        frames_.push_back({event == Json::parse_event_t::array_start, 0, "", {}});
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end: frames_.pop_back(); break;
      case Json::parse_event_t::key: {
        const std::string key = parsed.get<std::string>();
        if (!frames_.back().keys.insert(key).second && found_.empty()) {
          found_ = "duplicate key '" + key + "'";
          locate();
        }
        frames_.back().key = key;
        break;
      }
      case Json::parse_event_t::value: element(); break;
    }
    return true;
  }
  const std::string& found() const { return found_; }
  size_t step() const { return step_; }
  const std::string& where() const { return where_; }

 private:
  struct Frame {
    bool array;
    size_t next;
    std::string key;
    std::set<std::string> keys;
  };
  void element() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().next;
  }
  // Where the innermost object sits: step_ (1-based, 0 outside the steps) and where_ in it.
  void locate() {
    std::string out;
    for (size_t i = 0; i + 1 < frames_.size(); ++i) {
      if (i == 1 && frames_[0].key == "steps") {
        step_ = frames_[1].next;
        continue;
      }
      out += frames_[i].array ? "[" + std::to_string(frames_[i].next - 1) + "]" : "." + frames_[i].key;
    }
    if (step_ != 0 && out.rfind(".steps", 0) == 0) out = out.substr(6);
    where_ = out.substr(out.empty() || out[0] != '.' ? 0 : 1);
  }
  std::vector<Frame> frames_;
  std::string found_;
  size_t step_ = 0;
  std::string where_;
};

}  // namespace

bool Expectation::any_register() const {
  for (const auto& r : reg)
    if (r) return true;
  return false;
}

bool Expectation::any_message() const {
  for (const auto& f : field)
    if (f) return true;
  return !params.empty();
}

bool makes_smc(StepKind kind) {
  switch (kind) {
    case StepKind::kSmc:
    case StepKind::kCall:
    case StepKind::kRegisterShm:
    case StepKind::kUnregisterShm:
    case StepKind::kOpenSession:
    case StepKind::kInvoke:
    case StepKind::kCloseSession:
    case StepKind::kReturnFromRpc:
    case StepKind::kVmCreated:
    case StepKind::kVmDestroyed: return true;
    default: return false;
  }
}

std::string Step::label() const {
  return "step " + std::to_string(number) + " (" + (name.empty() ? kind_name : name) + ")";
}

Scenario parse_scenario(const std::string& text) {
  DuplicateKeys duplicates;
  Json root;
  try {
    root = Json::parse(text, std::ref(duplicates));
  } catch (const Json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 3, column 5: ..." without its tag.
    std::string what = e.what();
    if (const size_t tag = what.find("] "); what.rfind("[json.exception", 0) == 0 && tag != std::string::npos)
      what = what.substr(tag + 2);
    fail("invalid JSON: " + what);
  }
  if (!duplicates.found().empty()) {
    const std::string where = duplicates.where().empty() ? "" : duplicates.where() + ": ";
    if (duplicates.step() == 0) fail((where.empty() ? "scenario: " : where) + duplicates.found());
    fail(step_label(root["steps"][duplicates.step() - 1], duplicates.step()) + ": " + where + duplicates.found());
  }
  return Parser().parse(root);
}

}  // namespace teemm::tool::sim
