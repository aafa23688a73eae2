// Replaying scenarios (see simulator.hpp and docs/SCENARIOS.md).
#include "simulator.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <new>
#include <vector>

#include "number.hpp"
#include "optee/abi.hpp"
#include "optee/service.hpp"
#include "platform/builtin/qemu_virt.hpp"
#include "render.hpp"
#include "scenario.hpp"
#include "secure_world.hpp"

namespace teemm::tool::sim {
namespace {

// Members keep the order they were added in: readers and tests rely on it.
using Json = nlohmann::ordered_json;

// Where the convenience calls put their messages when the scenario does not say: one page per
// call in flight, the lowest free one from here (Linux gives each call a page of its own too).
constexpr uint64_t kMessageSlots = 0x4010'0000;
constexpr uint64_t kMessageSlotCount = 0xF00;  // up to 0x41000000, where page lists go by default
constexpr uint64_t kMaxDataBytes = uint64_t{64} << 20;
constexpr uint64_t kMaxPages = uint64_t{1} << 20;
constexpr size_t kMessageBytesMax = kPageSize;  // a message page: the header and 127 parameters

[[noreturn]] void malformed(const std::string& message) { throw ScenarioError{2, message}; }
[[noreturn]] void unmet(const std::string& message) { throw ScenarioError{1, message}; }

std::string hex0(uint64_t value) { return hex_address(value); }

uint32_t low32(uint64_t value) { return static_cast<uint32_t>(value); }

bool is_yielding(uint64_t a0) { return low32(a0) == optee::kCallWithArg || low32(a0) == optee::kReturnFromRpc; }

Json name_or_null(const char* name) { return name != nullptr ? Json(name) : Json(nullptr); }

// ---- A message as raw bytes in normal-world memory ---------------------------------------------
constexpr uint64_t kFieldOffsets[] = {0, 4, 8, 12, 20, 24, 28};  // by MessageField (pad at 16)
constexpr const char* kFieldNames[] = {"cmd", "func", "session", "cancel_id", "ret", "origin", "num_params"};
constexpr const char* kParamFieldNames[] = {"attr", "a", "b", "c"};

struct RawMessage {
  unsigned char bytes[kMessageBytesMax] = {};
  uint32_t field(unsigned f) const {
    uint32_t v;
    std::memcpy(&v, bytes + kFieldOffsets[f], sizeof(v));
    return v;
  }
  uint64_t param(unsigned index, unsigned f) const {
    uint64_t v;
    std::memcpy(&v, bytes + optee::kMsgHeaderSize + index * optee::kMsgParamSize + f * 8, sizeof(v));
    return v;
  }
};

// ---- The run -----------------------------------------------------------------------------------------
class Runner {
 public:
  explicit Runner(SecureWorld& world) : world_(world) {}
  void run(const Step& step);
  Json& steps() { return steps_; }
  Json state() const;

 private:
  struct InFlight {
    uint64_t at = 0;
    uint64_t guest = 0;
    uint64_t a1 = 0, a2 = 0;  // the RPC request's, handed back by default
  };

  uint64_t resolve(const Value& v, const std::string& field, uint64_t max = UINT64_MAX) const;
  std::optional<uint64_t> resolve(const std::optional<Value>& v, const std::string& field,
                                  uint64_t max = UINT64_MAX) const {
    if (!v) return std::nullopt;
    return resolve(*v, field, max);
  }
  std::vector<unsigned char> bytes_of(const Data& d, const std::string& kind) const;
  std::vector<uint64_t> pages_of(const std::vector<PageItem>& items, const std::string& field) const;
  void need_normal_world(uint64_t pa, uint64_t size, const std::string& what) const;
  void poke(uint64_t pa, const void* bytes, size_t size, const std::string& what);
  RawMessage read_message(uint64_t at, const std::string& what) const;
  void write_message(uint64_t at, const MessageSpec& m, const std::string& kind);
  uint64_t message_slot(const Step& s);

  // One SMC and what follows it: the step's record, the calls in flight, expectations, saves.
  void smc(const Step& s, const optee::SmcArgs& in, std::optional<uint64_t> message_at, Json& record);
  void check_message(const Expectation& e, uint64_t at, const std::string& what) const;
  void check_state(const Step& s) const;
  void check_memory(const Step& s, uint64_t pa) const;

  SecureWorld& world_;
  Json steps_ = Json::array();
  optee::SmcArgs last_;
  std::map<std::string, uint64_t> saved_;
  std::map<uint64_t, InFlight> in_flight_;  // by resume token
};

uint64_t Runner::resolve(const Value& v, const std::string& field, uint64_t max) const {
  uint64_t value = v.literal;
  if (v.is_ref()) {
    if (v.ref.size() == 2 && v.ref[0] == 'a' && v.ref[1] >= '0' && v.ref[1] <= '3')
      value = last_.a[v.ref[1] - '0'];
    else
      value = saved_.at(v.ref);  // the parser checked an earlier step saves it
    if (value > max)
      malformed(field + ": '$" + v.ref + "' is " + hex0(value) + ", out of range (at most " + hex0(max) + ")");
  }
  return value;
}

void Runner::need_normal_world(uint64_t pa, uint64_t size, const std::string& what) const {
  if (size == 0) return;
  if (!world_.ram().accessible(PhysAddr(pa), size))
    malformed(what + ": PA " + hex0(pa) + " (" + std::to_string(size) +
              " bytes) is not normal-world memory (non-secure DDR)");
}

void Runner::poke(uint64_t pa, const void* bytes, size_t size, const std::string& what) {
  need_normal_world(pa, size, what);
  world_.ram().poke(pa, bytes, size);
}

std::vector<unsigned char> Runner::bytes_of(const Data& d, const std::string& kind) const {
  std::vector<unsigned char> out;
  switch (d.kind) {
    case Data::Kind::kU64:
    case Data::Kind::kU32: {
      const size_t width = d.kind == Data::Kind::kU64 ? 8 : 4;
      for (size_t i = 0; i < d.words.size(); ++i) {
        const uint64_t w = resolve(d.words[i], kind + (width == 8 ? ".u64[" : ".u32[") + std::to_string(i) + "]",
                                   width == 8 ? UINT64_MAX : 0xFFFFFFFF);
        for (size_t b = 0; b < width; ++b) out.push_back(static_cast<unsigned char>(w >> (8 * b)));
      }
      break;
    }
    case Data::Kind::kBytes: out = d.bytes; break;
    case Data::Kind::kPattern:
    case Data::Kind::kFill: {
      const bool pattern = d.kind == Data::Kind::kPattern;
      const std::string form = kind + (pattern ? ".pattern" : ".fill");
      const uint64_t seed = resolve(d.seed, form + (pattern ? ".seed" : ".byte"), pattern ? UINT64_MAX : 0xFF);
      const uint64_t count = resolve(d.count, form + ".count", kMaxDataBytes);
      out.resize(count);
      for (uint64_t i = 0; i < count; ++i)
        out[i] = pattern ? optee::pattern_byte(seed, i) : static_cast<unsigned char>(seed);
      break;
    }
  }
  return out;
}

std::vector<uint64_t> Runner::pages_of(const std::vector<PageItem>& items, const std::string& field) const {
  std::vector<uint64_t> pages;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string at = field + "[" + std::to_string(i) + "]";
    const uint64_t first = resolve(items[i].first, at + (items[i].count ? ".first" : ""));
    if (!items[i].count) {
      pages.push_back(first);
    } else {
      const uint64_t count = resolve(*items[i].count, at + ".count", kMaxPages);
      const uint64_t stride = resolve(items[i].stride, at + ".stride");
      for (uint64_t k = 0; k < count; ++k) pages.push_back(first + k * stride);  // wraps as the u64 it is
    }
    if (pages.size() > kMaxPages) malformed(field + ": more than " + std::to_string(kMaxPages) + " pages");
  }
  return pages;
}

RawMessage Runner::read_message(uint64_t at, const std::string& what) const {
  need_normal_world(at, optee::kMsgHeaderSize, what);
  RawMessage m;
  // As much of the page as is normal-world memory: the header, and parameters up to 127.
  uint64_t size = kMessageBytesMax;
  while (size > optee::kMsgHeaderSize && !world_.ram().accessible(PhysAddr(at), size)) size -= optee::kMsgParamSize;
  world_.ram().peek(at, m.bytes, size);
  return m;
}

void Runner::write_message(uint64_t at, const MessageSpec& m, const std::string& kind) {
  const uint32_t header[8] = {
      static_cast<uint32_t>(resolve(m.cmd, kind + ".cmd", 0xFFFFFFFF)),
      static_cast<uint32_t>(resolve(m.func, kind + ".func", 0xFFFFFFFF)),
      static_cast<uint32_t>(resolve(m.session, kind + ".session", 0xFFFFFFFF)),
      static_cast<uint32_t>(resolve(m.cancel_id, kind + ".cancel_id", 0xFFFFFFFF)),
      0,
      static_cast<uint32_t>(resolve(m.ret, kind + ".ret", 0xFFFFFFFF)),
      static_cast<uint32_t>(resolve(m.origin, kind + ".origin", 0xFFFFFFFF)),
      m.num_params ? static_cast<uint32_t>(resolve(*m.num_params, kind + ".num_params", 0xFFFFFFFF))
                   : static_cast<uint32_t>(m.params.size()),
  };
  std::vector<unsigned char> bytes(optee::kMsgHeaderSize + m.params.size() * optee::kMsgParamSize);
  std::memcpy(bytes.data(), header, sizeof(header));
  for (size_t i = 0; i < m.params.size(); ++i) {
    const std::string p = kind + ".params[" + std::to_string(i) + "].";
    const uint64_t values[4] = {resolve(m.params[i].attr, p + "attr"), resolve(m.params[i].a, p + "a"),
                                resolve(m.params[i].b, p + "b"), resolve(m.params[i].c, p + "c")};
    std::memcpy(bytes.data() + optee::kMsgHeaderSize + i * optee::kMsgParamSize, values, sizeof(values));
  }
  poke(at, bytes.data(), bytes.size(), kind + ": the message");
}

uint64_t Runner::message_slot(const Step& s) {
  if (s.at) return resolve(*s.at, s.kind_name + ".at");
  for (uint64_t k = 0; k < kMessageSlotCount; ++k) {
    const uint64_t at = kMessageSlots + k * kPageSize;
    if (std::none_of(in_flight_.begin(), in_flight_.end(), [&](const auto& f) { return f.second.at == at; })) return at;
  }
  malformed(s.kind_name + ": every message slot is held by a call in flight (give 'at')");
}

Json registers_json(const optee::SmcArgs& r, unsigned count) {
  Json out = Json::object();
  for (unsigned i = 0; i < count; ++i) out["a" + std::to_string(i)] = hex0(r.a[i]);
  return out;
}

Json message_json(uint64_t at, const RawMessage& m) {
  const uint32_t count = m.field(static_cast<unsigned>(MessageField::kNumParams));
  Json params = Json::array();
  for (uint32_t i = 0; i < count && i < (kMessageBytesMax - optee::kMsgHeaderSize) / optee::kMsgParamSize; ++i)
    params.push_back({{"attr", hex0(m.param(i, 0))},
                      {"a", hex0(m.param(i, 1))},
                      {"b", hex0(m.param(i, 2))},
                      {"c", hex0(m.param(i, 3))}});
  const uint32_t ret = m.field(static_cast<unsigned>(MessageField::kRet));
  const uint32_t origin = m.field(static_cast<unsigned>(MessageField::kOrigin));
  return {{"at", hex0(at)},
          {"cmd", m.field(static_cast<unsigned>(MessageField::kCmd))},
          {"func", m.field(static_cast<unsigned>(MessageField::kFunc))},
          {"session", m.field(static_cast<unsigned>(MessageField::kSession))},
          {"ret", hex0(ret)},
          {"ret_name", name_or_null(tee_result_name(ret))},
          {"origin", origin},
          {"origin_name", name_or_null(origin_name(origin))},
          {"num_params", count},
          {"params", std::move(params)}};
}

// "0xffff0006 (TEE_ERROR_BAD_PARAMETERS)" when the value has a name in its field's vocabulary.
std::string shown(uint64_t value, const char* name) {
  return name != nullptr ? hex0(value) + " (" + name + ")" : hex0(value);
}

void Runner::smc(const Step& s, const optee::SmcArgs& in, std::optional<uint64_t> message_at, Json& record) {
  const uint32_t function = low32(in.a[0]);
  if (function == optee::kReturnFromRpc && !message_at) {
    const auto it = in_flight_.find(in.a[3]);
    if (it != in_flight_.end()) message_at = it->second.at;
  }
  const optee::SmcArgs out = world_.smc(in);
  last_ = out;

  // The normal world's bookkeeping of its calls in flight, by resume token.
  const bool rpc = optee::is_rpc_request(low32(out.a[0]));
  if (function == optee::kCallWithArg && rpc && message_at) {
    in_flight_[out.a[3]] = InFlight{*message_at, in.a[7], out.a[1], out.a[2]};
  } else if (function == optee::kReturnFromRpc && in_flight_.count(in.a[3]) != 0) {
    InFlight call = in_flight_[in.a[3]];
    if (rpc) {
      in_flight_.erase(in.a[3]);
      call.a1 = out.a[1];
      call.a2 = out.a[2];
      in_flight_[out.a[3]] = call;
    } else if (low32(out.a[0]) != optee::kReturnResume) {
      in_flight_.erase(in.a[3]);
    }
  } else if (function == optee::kVmDestroyed && low32(out.a[0]) == optee::kReturnOk) {
    std::erase_if(in_flight_, [&](const auto& f) { return f.second.guest == in.a[1]; });
  }

  record["in"] = registers_json(in, 8);
  record["out"] = registers_json(out, 4);
  if (is_yielding(in.a[0])) record["answer"] = name_or_null(return_code_name(low32(out.a[0])));
  const bool completed = is_yielding(in.a[0]) && low32(out.a[0]) == optee::kReturnOk;
  if (message_at && completed && world_.ram().accessible(PhysAddr(*message_at), optee::kMsgHeaderSize))
    record["message"] = message_json(*message_at, read_message(*message_at, "the message"));
  steps_.push_back(record);

  for (unsigned r = 0; r < 4; ++r) {
    if (!s.expect.reg[r]) continue;
    const std::string reg = "a" + std::to_string(r);
    const uint64_t want = resolve(*s.expect.reg[r], "expect." + reg);
    const char* (*names)(uint64_t) = r == 0 && is_yielding(in.a[0]) ? return_code_name : nullptr;
    if (out.a[r] != want)
      unmet("expected " + reg + " = " + shown(want, names ? names(want) : nullptr) + ", got " +
            shown(out.a[r], names ? names(out.a[r]) : nullptr));
  }
  const bool message_needed = s.expect.any_message() || std::any_of(s.saves.begin(), s.saves.end(), [](const Save& v) {
                                return v.source.kind != Source::Kind::kRegister;
                              });
  if (message_needed && !message_at)
    malformed("no message to read: this SMC names no message the scenario wrote (use expect_message with 'at')");
  if (s.expect.any_message()) check_message(s.expect, *message_at, "expect");
  for (const Save& v : s.saves) {
    uint64_t value = 0;
    if (v.source.kind == Source::Kind::kRegister) {
      value = out.a[v.source.index];
    } else {
      const RawMessage m = read_message(*message_at, "save." + v.name);
      value = v.source.kind == Source::Kind::kField
                  ? m.field(v.source.index)
                  : m.param(v.source.index, static_cast<unsigned>(v.source.param_field));
    }
    saved_[v.name] = value;
  }
}

void Runner::check_message(const Expectation& e, uint64_t at, const std::string& what) const {
  const RawMessage m = read_message(at, what);
  for (unsigned f = 0; f < 7; ++f) {
    if (!e.field[f]) continue;
    const uint64_t want = resolve(*e.field[f], what + "." + kFieldNames[f], 0xFFFFFFFF);
    const uint64_t got = m.field(f);
    const auto name = [&](uint64_t v) -> const char* {
      if (f == static_cast<unsigned>(MessageField::kRet)) return tee_result_name(v);
      if (f == static_cast<unsigned>(MessageField::kOrigin)) return origin_name(v);
      return nullptr;
    };
    if (got != want)
      unmet(std::string("expected message ") + kFieldNames[f] + " = " + shown(want, name(want)) + ", got " +
            shown(got, name(got)));
  }
  for (size_t i = 0; i < e.params.size(); ++i) {
    if (!e.params[i]) continue;
    for (unsigned f = 0; f < 4; ++f) {
      if (!e.params[i]->field[f]) continue;
      const std::string field = "params[" + std::to_string(i) + "]." + kParamFieldNames[f];
      const uint64_t want = resolve(*e.params[i]->field[f], what + "." + field);
      const uint64_t got = m.param(static_cast<unsigned>(i), f);
      if (got != want) unmet("expected message " + field + " = " + hex0(want) + ", got " + hex0(got));
    }
  }
}

void Runner::check_memory(const Step& s, uint64_t pa) const {
  const std::vector<unsigned char> want = bytes_of(s.data, "expect_memory");
  need_normal_world(pa, want.size(), "expect_memory");
  std::vector<unsigned char> got(want.size());
  world_.ram().peek(pa, got.data(), got.size());
  if (got == want) return;
  const size_t width = s.data.kind == Data::Kind::kU64 ? 8 : s.data.kind == Data::Kind::kU32 ? 4 : 1;
  const char* unit = width == 8 ? "u64" : width == 4 ? "u32" : "byte";
  for (size_t i = 0; i < want.size(); i += width) {
    if (std::memcmp(want.data() + i, got.data() + i, width) == 0) continue;
    uint64_t w = 0, g = 0;
    std::memcpy(&w, want.data() + i, width);
    std::memcpy(&g, got.data() + i, width);
    unmet(std::string("expected ") + unit + " at PA " + hex0(pa + i) + " = " + hex0(w) + ", got " + hex0(g));
  }
}

// The number a state value stands for: an integer, or a hex string (cookies).
std::optional<uint64_t> state_number(const Json& j) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_object() && j.contains("cookie")) return state_number(j["cookie"]);
  if (j.is_string()) {
    uint64_t v = 0;
    if (parse_number(j.get<std::string>(), &v) == NumberError::kNone) return v;
  }
  return std::nullopt;
}

std::string list_text(const std::vector<uint64_t>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + hex0(values[i]);
  return out + "]";
}

void Runner::check_state(const Step& s) const {
  const Json state = this->state();
  for (const StateCheck& c : s.state_checks) {
    const Json::json_pointer pointer(c.pointer);
    const std::string what = "state " + c.path.substr(std::string("expect_state.").size());
    const bool present = state.contains(pointer);
    if (c.kind == StateCheck::Kind::kAbsent) {
      if (present) unmet("expected " + what + " = null (no such guest), got a live guest");
      continue;
    }
    if (!present) unmet("expected " + what + ", got nothing (no such guest)");
    const Json& got = state.at(pointer);
    switch (c.kind) {
      case StateCheck::Kind::kBool:
        if (got.get<bool>() != c.flag)
          unmet("expected " + what + " = " + (c.flag ? "true" : "false") + ", got " + (c.flag ? "false" : "true"));
        break;
      case StateCheck::Kind::kNumber: {
        const uint64_t want = resolve(c.number, c.path);
        const uint64_t value = state_number(got).value_or(0);
        if (value != want) unmet("expected " + what + " = " + std::to_string(want) + ", got " + std::to_string(value));
        break;
      }
      case StateCheck::Kind::kCount: {
        const uint64_t want = resolve(c.number, c.path);
        if (got.size() != want)
          unmet("expected " + what + " = " + std::to_string(want) + ", got " + std::to_string(got.size()));
        break;
      }
      case StateCheck::Kind::kList: {
        std::vector<uint64_t> want, have;
        for (size_t i = 0; i < c.list.size(); ++i)
          want.push_back(resolve(c.list[i], c.path + "[" + std::to_string(i) + "]"));
        for (const Json& element : got) have.push_back(state_number(element).value_or(0));
        if (want != have) unmet("expected " + what + " = " + list_text(want) + ", got " + list_text(have));
        break;
      }
      case StateCheck::Kind::kAbsent: break;
    }
  }
}

void Runner::run(const Step& s) {
  Json record = {{"step", s.number}, {"name", s.name.empty() ? Json(nullptr) : Json(s.name)}, {"kind", s.kind_name}};
  const std::string& k = s.kind_name;
  optee::SmcArgs in;
  std::optional<uint64_t> message_at;
  switch (s.kind) {
    case StepKind::kWrite: {
      const uint64_t pa = resolve(*s.at, k + ".pa");
      const std::vector<unsigned char> bytes = bytes_of(s.data, k);
      poke(pa, bytes.data(), bytes.size(), k);
      record["pa"] = hex0(pa);
      record["size"] = bytes.size();
      steps_.push_back(record);
      return;
    }
    case StepKind::kPageList: {
      const uint64_t at = resolve(*s.at, k + ".at");
      const std::vector<uint64_t> pages = pages_of(s.pages, k + ".pages");
      const uint64_t lists = shm::PageListScratch::list_pages_for(pages.size());
      need_normal_world(at, lists * kPageSize, k);
      write_page_list(world_.ram(), at, pages);
      record["at"] = hex0(at);
      record["pages"] = pages.size();
      record["list_pages"] = lists;
      steps_.push_back(record);
      return;
    }
    case StepKind::kMessage: {
      const uint64_t at = resolve(*s.at, k + ".at");
      write_message(at, s.message, k);
      record["at"] = hex0(at);
      steps_.push_back(record);
      return;
    }
    case StepKind::kSmc: {
      for (unsigned r = 0; r < 8; ++r) in.a[r] = resolve(s.regs[r], k + ".a" + std::to_string(r));
      if (low32(in.a[0]) == optee::kCallWithArg) message_at = (uint64_t{low32(in.a[1])} << 32) | low32(in.a[2]);
      break;
    }
    case StepKind::kCall:
    case StepKind::kOpenSession:
    case StepKind::kInvoke:
    case StepKind::kCloseSession:
    case StepKind::kRegisterShm:
    case StepKind::kUnregisterShm: {
      const uint64_t guest = resolve(s.guest, k + ".guest", 0xFFFF);
      const uint64_t at = message_slot(s);
      MessageSpec m = s.message;
      if (s.kind == StepKind::kRegisterShm) {
        const uint64_t list_at = resolve(s.list_at, k + ".list_at");
        const uint64_t offset = resolve(s.offset, k + ".offset", kPageMask);
        if ((list_at & kPageMask) != 0) malformed(k + ".list_at: " + hex0(list_at) + " is not 4 KiB aligned");
        uint64_t size = 0;
        if (s.has_pages) {
          const std::vector<uint64_t> pages = pages_of(s.pages, k + ".pages");
          need_normal_world(list_at, shm::PageListScratch::list_pages_for(pages.size()) * kPageSize,
                            k + ": the page list");
          write_page_list(world_.ram(), list_at, pages, offset);
          size = pages.size() * kPageSize - offset;
        }
        if (s.size) size = resolve(*s.size, k + ".size");
        m.cmd.literal = optee::kCmdRegisterShm;
        m.params = {ParamSpec{s.attr, Value{list_at | offset, ""}, Value{size, ""}, s.cookie}};
      } else if (s.kind == StepKind::kUnregisterShm) {
        m.cmd.literal = optee::kCmdUnregisterShm;
        m.params = {ParamSpec{Value{optee::kAttrRmemInput, ""}, Value{}, Value{}, s.cookie}};
      }
      write_message(at, m, k);
      message_at = at;
      in.a[0] = optee::kCallWithArg;
      in.a[1] = at >> 32;
      in.a[2] = at & 0xFFFFFFFF;
      in.a[7] = guest;
      break;
    }
    case StepKind::kReturnFromRpc: {
      const uint64_t token = resolve(*s.token, k + ".token");
      const auto call = in_flight_.find(token);
      in.a[0] = optee::kReturnFromRpc;
      in.a[1] = call != in_flight_.end() ? call->second.a1 : last_.a[1];
      in.a[2] = call != in_flight_.end() ? call->second.a2 : last_.a[2];
      if (const std::optional<uint64_t> pa = resolve(s.rpc_pa, k + ".pa")) {
        in.a[1] = *pa >> 32;
        in.a[2] = *pa & 0xFFFFFFFF;
      }
      in.a[3] = token;
      if (const std::optional<uint64_t> cookie = resolve(s.rpc_cookie, k + ".cookie")) {
        in.a[4] = *cookie >> 32;
        in.a[5] = *cookie & 0xFFFFFFFF;
      }
      in.a[7] = resolve(s.guest, k + ".guest", 0xFFFF);
      break;
    }
    case StepKind::kVmCreated:
    case StepKind::kVmDestroyed:
      in.a[0] = s.kind == StepKind::kVmCreated ? optee::kVmCreated : optee::kVmDestroyed;
      in.a[1] = resolve(s.guest, k, 0xFFFF);
      break;
    case StepKind::kSetQuota: {
      const GuestId guest(static_cast<uint16_t>(resolve(s.guest, k + ".guest", 0xFFFF)));
      const virt::Guest* g = world_.dispatcher().guests().find(guest);
      if (g == nullptr) unmet(k + ": guest " + std::to_string(guest.value) + " is not live");
      virt::Quota q = g->quota;
      if (const auto v = resolve(s.quota_buffers, k + ".buffers", 0xFFFFFFFF)) q.buffers = static_cast<uint32_t>(*v);
      if (const auto v = resolve(s.quota_pages, k + ".pages")) q.pages = *v;
      if (const auto v = resolve(s.quota_threads, k + ".threads", 0xFFFFFFFF)) q.threads = static_cast<uint32_t>(*v);
      (void)world_.dispatcher().set_quota(guest, q);
      record["quota"] = {{"buffers", q.buffers}, {"pages", q.pages}, {"threads", q.threads}};
      steps_.push_back(record);
      return;
    }
    case StepKind::kExpectMemory: {
      const uint64_t pa = resolve(*s.at, k + ".pa");
      steps_.push_back(record);
      check_memory(s, pa);
      return;
    }
    case StepKind::kExpectMessage: {
      const uint64_t at = resolve(*s.at, k + ".at");
      record["message"] = message_json(at, read_message(at, k));
      steps_.push_back(record);
      check_message(s.expect, at, k);
      return;
    }
    case StepKind::kExpectState:
      steps_.push_back(record);
      check_state(s);
      return;
  }
  smc(s, in, message_at, record);
}

Json Runner::state() const {
  const optee::Dispatcher& d = world_.dispatcher();
  std::vector<const virt::Guest*> live;
  d.guests().for_each_live([&](const virt::Guest& g) { live.push_back(&g); });
  std::sort(live.begin(), live.end(), [](const virt::Guest* a, const virt::Guest* b) { return a->id < b->id; });
  Json ids = Json::array();
  Json guests = Json::object();
  for (const virt::Guest* g : live) {
    ids.push_back(g->id.value);
    Json objects = Json::array();
    d.objects().for_each_of(g->id, [&](const shm::ShmObject& o) {
      objects.push_back({{"cookie", hex0(o.cookie)},
                         {"va", hex(o.va.value)},
                         {"offset", o.offset},
                         {"size", o.size},
                         {"pages", o.pages()},
                         {"users", o.users}});
    });
    guests[std::to_string(g->id.value)] = {
        {"objects", std::move(objects)},
        {"sessions", d.sessions_of(g->id)},
        {"usage", {{"buffers", g->usage.buffers}, {"pages", g->usage.pages}, {"threads", g->usage.threads}}},
        {"quota", {{"buffers", g->quota.buffers}, {"pages", g->quota.pages}, {"threads", g->quota.threads}}}};
  }
  // The ranges, collected first: the visitor runs under the address-space lock, which the lookups
  // below take again.
  std::vector<mm::VaRange> ranges;
  d.address_space().for_each_range([&](const mm::VaRange& r) { ranges.push_back(r); });
  Json range_list = Json::array();
  uint64_t pages[2] = {0, 0}, counts[2] = {0, 0};
  for (const mm::VaRange& r : ranges) {
    const bool io = r.kind == mm::VaRangeKind::kDeviceIo;
    pages[io] += r.size.bytes / kPageSize;
    ++counts[io];
    const Result<PhysAddr> pa = d.address_space().virt_to_phys(r.start);
    Json entry = {{"kind", mm::va_range_kind_name(r.kind)},
                  {"va", hex(r.start.value)},
                  {"size", r.size.bytes},
                  {"pa", pa ? Json(hex(pa->value)) : Json(nullptr)},
                  {"owner", r.owner.value}};
    if (!io) entry["cookie"] = hex0(r.backing);
    range_list.push_back(std::move(entry));
  }
  Json out;
  out["live_guests"] = std::move(ids);
  out["guests"] = std::move(guests);
  out["objects"] = d.objects().count();
  out["shm"] = {{"ranges", counts[0]}, {"pages", pages[0]}, {"va_in_use", d.address_space().shm_usage().in_use.bytes}};
  out["io"] = {{"ranges", counts[1]}, {"pages", pages[1]}, {"va_in_use", d.address_space().io_usage().in_use.bytes}};
  out["ranges"] = std::move(range_list);
  out["table_pages"] = world_.session().pool().used();
  out["pa_index_runs"] = d.address_space().pa_index_stats().runs;
  out["threads"] = {{"free", d.threads_in_state(optee::ThreadState::kFree)},
                    {"running", d.threads_in_state(optee::ThreadState::kRunning)},
                    {"suspended", d.threads_in_state(optee::ThreadState::kSuspended)}};
  out["audit"] = d.audit();
  return out;
}

// ---- Layout ------------------------------------------------------------------------------------------
// The tool's JSON style (", " and ": " inside a line); the document, its steps and its state are
// spread one member per line, each step and each guest on a line of its own.
void write_inline(const Json& value, std::string& out) {
  if (value.is_object() || value.is_array()) {
    out += value.is_object() ? '{' : '[';
    const char* separator = "";
    for (const auto& [key, member] : value.items()) {
      out += separator;
      if (value.is_object()) out += Json(key).dump() + ": ";
      write_inline(member, out);
      separator = ", ";
    }
    out += value.is_object() ? '}' : ']';
  } else {
    out += value.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
}

bool spread(const std::string& path) {
  return path.empty() || path == "/steps" || path == "/state" || path == "/state/guests" || path == "/state/ranges";
}

void lay_out(const Json& value, const std::string& path, size_t indent, std::string& out) {
  if (!(value.is_object() || value.is_array()) || value.empty() || !spread(path)) return write_inline(value, out);
  out += value.is_object() ? '{' : '[';
  const char* separator = "\n";
  for (const auto& [key, member] : value.items()) {
    out += separator + std::string(indent + 2, ' ');
    if (value.is_object()) out += Json(key).dump() + ": ";
    lay_out(member, path + "/" + key, indent + 2, out);
    separator = ",\n";
  }
  out += "\n" + std::string(indent, ' ') + (value.is_object() ? '}' : ']');
}

// ---- The whole replay ----------------------------------------------------------------------------------
Outcome replay(const std::string& text, const std::string& source) {
  Scenario scenario;
  try {
    scenario = parse_scenario(text);
  } catch (const ScenarioError& e) {
    return {e.status, "", e.message};
  }
  SessionOptions session_options;
  session_options.table_pages = scenario.config.table_pages;
  session_options.dynamic_ranges = scenario.config.dynamic_ranges;
  const std::vector<mm::Region> regions(platform::qemu_virt::kRegions,
                                        platform::qemu_virt::kRegions + platform::qemu_virt::kRegionCount);
  Session session("qemu-virt", regions, session_options);
  SecureWorldOptions options;
  options.config = scenario.config.dispatcher;
  options.threads = scenario.config.threads;
  options.guests = scenario.config.guests;
  options.sessions = scenario.config.sessions;
  options.objects = scenario.config.objects;
  options.max_buffer_pages = scenario.config.max_buffer_pages;
  SecureWorld world(session, options);
  if (!world.ok()) return {1, "", "the secure world would not start: " + world.error()};

  Runner runner(world);
  Outcome outcome;
  Json failure = nullptr;
  for (const Step& step : scenario.steps) {
    try {
      runner.run(step);
    } catch (const ScenarioError& e) {
      if (e.status == 2) return {2, "", step.label() + ": " + e.message};
      outcome.status = 1;
      outcome.error = step.label() + ": " + e.message;
      failure = {
          {"step", step.number}, {"name", step.name.empty() ? Json(nullptr) : Json(step.name)}, {"error", e.message}};
      break;
    }
  }
  Json document;
  document["scenario"] = source;
  document["description"] = scenario.description.empty() ? Json(nullptr) : Json(scenario.description);
  document["platform"] = "qemu-virt";
  document["passed"] = outcome.status == 0;
  document["failure"] = std::move(failure);
  document["steps"] = std::move(runner.steps());
  document["state"] = runner.state();
  lay_out(document, "", 0, outcome.output);
  outcome.output += "\n";
  return outcome;
}

}  // namespace

Outcome simulate(const std::string& text, const std::string& source) {
  try {
    return replay(text, source);
  } catch (const std::bad_alloc&) {
    return {1, "", "out of host memory"};
  }
}

}  // namespace teemm::tool::sim
