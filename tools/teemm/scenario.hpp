// tools/teemm/scenario: the scenario files `teemm sim` replays (format: docs/SCENARIOS.md), read
// into checked steps before anything runs.
//
// Parsing is all-or-nothing: every key, number and reference of every step is checked first, so a
// typo in step 30 never leaves 29 steps half-run. Numbers are JSON integers or strings in the CLI's
// grammar (number.hpp), optionally OR-ed names of ABI constants ("TMEM_OUTPUT|NONCONTIG");
// "$a3" / "$name" references stay symbolic until their step runs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "optee/dispatcher.hpp"

namespace teemm::tool::sim {

// What went wrong, as the CLI reports it: status 2 for a malformed scenario, 1 for an unmet
// expectation; `message` is one line without the "teemm: " prefix.
struct ScenarioError {
  int status = 2;
  std::string message;
};

// A number: a literal, or a reference resolved when its step runs ("a0".."a3": that register of
// the previous SMC's answer; anything else: a value an earlier step saved).
struct Value {
  uint64_t literal = 0;
  std::string ref;
  bool is_ref() const { return !ref.empty(); }
};

struct ParamSpec {
  Value attr, a, b, c;
};

// A message header and its parameters, as written into normal-world memory.
struct MessageSpec {
  Value cmd, func, session, cancel_id, ret, origin;
  std::optional<Value> num_params;  // default: params.size()
  std::vector<ParamSpec> params;
};

enum class MessageField : uint8_t { kCmd, kFunc, kSession, kCancelId, kRet, kOrigin, kNumParams };
enum class ParamField : uint8_t { kAttr, kA, kB, kC };

struct ParamExpect {
  std::optional<Value> field[4];  // by ParamField
};

// Expected registers (a0..a3 of an answer) and message fields; each one optional.
struct Expectation {
  std::optional<Value> reg[4];
  std::optional<Value> field[7];                   // by MessageField
  std::vector<std::optional<ParamExpect>> params;  // null: not checked
  bool any_register() const;
  bool any_message() const;
};

// Where a saved value comes from: an answer register or a field of the step's message.
struct Source {
  enum class Kind : uint8_t { kRegister, kField, kParam } kind = Kind::kRegister;
  unsigned index = 0;  // register number, MessageField, or parameter number
  ParamField param_field = ParamField::kA;
  std::string text;
};

struct Save {
  std::string name;
  Source source;
};

// Bytes for `write` and `expect_memory`.
struct Data {
  enum class Kind : uint8_t { kU64, kU32, kBytes, kPattern, kFill } kind = Kind::kBytes;
  std::vector<Value> words;
  std::vector<unsigned char> bytes;
  Value seed;  // pattern seed, or fill byte
  Value count;
};

// A page, or a run of `count` pages `stride` bytes apart from `first`.
struct PageItem {
  Value first;
  std::optional<Value> count;
  Value stride;
};

// One check of expect_state: `pointer` into the state JSON (docs/SCENARIOS.md), `path` as the
// scenario spelt it.
struct StateCheck {
  enum class Kind : uint8_t { kNumber, kBool, kAbsent, kCount, kList } kind = Kind::kNumber;
  std::string path;
  std::string pointer;
  Value number;
  bool flag = false;
  std::vector<Value> list;  // kList: the ids or cookies, in order
};

enum class StepKind : uint8_t {
  kWrite,
  kPageList,
  kMessage,
  kSmc,
  kCall,
  kRegisterShm,
  kUnregisterShm,
  kOpenSession,
  kInvoke,
  kCloseSession,
  kReturnFromRpc,
  kVmCreated,
  kVmDestroyed,
  kSetQuota,
  kExpectMemory,
  kExpectMessage,
  kExpectState,
};

// Steps that make an SMC (and so may carry `expect` and `save`).
bool makes_smc(StepKind kind);

struct Step {
  size_t number = 0;  // 1-based, as error messages count
  std::string name;
  StepKind kind = StepKind::kSmc;
  std::string kind_name;

  // Registers of `smc` (absent: 0).
  std::array<Value, 8> regs;
  // The calling guest (a7) of the convenience calls; the guest id of vm_* and set_quota.
  Value guest;
  // Where: write/expect_memory pa, page_list/message/expect_message at; the message page of the
  // convenience calls when given (otherwise the lowest free slot, see docs/SCENARIOS.md).
  std::optional<Value> at;
  Data data;
  std::vector<PageItem> pages;
  bool has_pages = false;
  MessageSpec message;
  // register_shm / unregister_shm.
  Value cookie, offset, list_at, attr;
  std::optional<Value> size;
  // return_from_rpc.
  std::optional<Value> token, rpc_pa, rpc_cookie;
  // set_quota.
  std::optional<Value> quota_buffers, quota_pages, quota_threads;

  Expectation expect;  // `expect`, or the fields of expect_message
  std::vector<Save> saves;
  std::vector<StateCheck> state_checks;

  // "step 7 (register buffer)", or "step 7 (register_shm)" for a step without a name.
  std::string label() const;
};

struct Config {
  optee::DispatcherConfig dispatcher;
  size_t threads = 4;
  size_t guests = 16;
  size_t sessions = 64;
  size_t objects = 16384;
  size_t max_buffer_pages = 262144;
  size_t table_pages = 4096;
  size_t dynamic_ranges = 4096;
};

struct Scenario {
  std::string description;
  Config config;
  std::vector<Step> steps;
};

// Parses a scenario's text. Throws ScenarioError (status 2) naming the step and field at fault.
Scenario parse_scenario(const std::string& text);

// ---- ABI names --------------------------------------------------------------------------------
// The names a scenario may use for numbers (docs/SCENARIOS.md lists them), and back: the name of
// an SMC answer of a yielding call, a TEE result, an origin (nullptr when it has none).
std::optional<uint64_t> symbol_value(const std::string& name);
const char* return_code_name(uint64_t a0);
const char* tee_result_name(uint64_t ret);
const char* origin_name(uint64_t origin);

// "7011a688-ddde-4053-a5a9-7b3c4ddf13b8" -> the two u64 OPEN_SESSION carries (value.a, value.b).
bool parse_uuid(const std::string& text, uint64_t* a, uint64_t* b);

}  // namespace teemm::tool::sim
