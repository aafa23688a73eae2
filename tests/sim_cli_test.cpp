// `teemm sim`: malformed scenarios exit 2 naming the step and field, before anything runs; unmet
// expectations exit 1 naming the step, with the replay's JSON still on stdout; the JSON has the
// fields docs/SCENARIOS.md documents. Most cases call the simulator in-process; a few run the
// binary, as a user does, for the exit status and the one line on stderr.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenario.hpp"
#include "simulator.hpp"
#include "support/cli_run.hpp"

namespace {

using teemm::tool::sim::Outcome;
using teemm::tool::sim::simulate;
using Json = nlohmann::ordered_json;

using teemm::testing::CliRun;
using teemm::testing::run_cli;

std::string temp_path(const std::string& name) { return teemm::testing::cli_temp_path("sim_" + name); }

// Writes `text` to a scenario file and runs `teemm sim` on it.
CliRun run_scenario(const std::string& text) {
  const std::string path = temp_path("scenario.json");
  std::ofstream(path) << text;
  CliRun r = run_cli("sim " + path);
  std::remove(path.c_str());
  return r;
}

int count_lines(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

std::vector<std::string> keys_of(const Json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

const char* const kServiceUuid = "\"5f8c2d10-3b7e-4d2a-9c61-7ee3317e5eed\"";

// ---- Malformed scenarios: exit 2, the step and field named, nothing run ------------------------------

struct Malformed {
  std::string scenario;
  std::string error;  // the whole message, without "teemm: "
};

TEST(SimScenario, MalformedScenariosNameTheStepAndField) {
  const Malformed cases[] = {
      // Numbers.
      {R"({"steps": [{"smc": {"a0": "CALLS_UID"}}, {"name": "bad", "smc": {"a0": "0x1g"}}]})",
       "step 2 (bad): smc.a0: invalid number '0x1g'"},
      {R"({"steps": [{"smc": {"a0": "0x10000000000000000"}}]})",
       "step 1 (smc): smc.a0: number too large '0x10000000000000000'"},
      {R"({"steps": [{"smc": {"a0": -1}}]})", "step 1 (smc): smc.a0: negative number -1"},
      {R"({"steps": [{"smc": {"a0": 1.5}}]})",
       "step 1 (smc): smc.a0: invalid number 1.5 (integers only, at most 2^64-1)"},
      {R"({"steps": [{"smc": {"a0": 18446744073709551616}}]})",
       "step 1 (smc): smc.a0: invalid number 1.8446744073709552e+19 (integers only, at most 2^64-1)"},
      {R"({"steps": [{"smc": {"a0": " 1"}}]})", "step 1 (smc): smc.a0: unknown name ' 1'"},
      {R"({"steps": [{"smc": {"a0": ""}}]})", "step 1 (smc): smc.a0: invalid number ''"},
      {R"({"steps": [{"smc": {"a0": true}}]})", "step 1 (smc): smc.a0: expected a number, got a boolean"},
      {R"({"steps": [{"smc": {"a0": "CALL_WITH_ARGS"}}]})", "step 1 (smc): smc.a0: unknown name 'CALL_WITH_ARGS'"},
      {R"({"steps": [{"call": {"cmd": "0x100000000"}}]})",
       "step 1 (call): call.cmd: '0x100000000' is out of range (at most 0xffffffff)"},
      {R"({"steps": [{"vm_created": 65536}]})",
       "step 1 (vm_created): vm_created: '65536' is out of range (at most 0xffff)"},
      {R"({"steps": [{"write": {"pa": "0x40000000", "u32": ["0x100000000"]}}]})",
       "step 1 (write): write.u32[0]: '0x100000000' is out of range (at most 0xffffffff)"},
      {R"({"steps": [{"write": {"pa": "0x40000000", "bytes": "0x123"}}]})",
       "step 1 (write): write.bytes: invalid hex byte string '0x123' (two hex digits per byte)"},
      {R"({"steps": [{"open_session": {"uuid": "5f8c2d10-3b7e-4d2a-9c61-7ee3317e5ee"}}]})",
       "step 1 (open_session): open_session.uuid: invalid UUID '5f8c2d10-3b7e-4d2a-9c61-7ee3317e5ee' "
       "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"},
      // Keys: unknown, missing, duplicated, too many kinds.
      {R"({"steps": [{"smc": {"a0": 1}, "expct": {"a0": 0}}]})", "step 1 (smc): unknown key 'expct'"},
      {R"({"steps": [{"name": "n", "smc": {"a0": 1, "a8": 0}}]})", "step 1 (n): smc: unknown key 'a8'"},
      {R"({"steps": [{"smc": {"a0": 1}, "expect": {"a4": 0}}]})", "step 1 (smc): expect: unknown key 'a4'"},
      {R"({"steps": [{"invoke": {"session": 1, "func": 0, "params": [{"attr": 1, "d": 0}]}}]})",
       "step 1 (invoke): invoke.params[0]: unknown key 'd'"},
      {R"({"steps": [{"expect_state": {"guests": {"0": {"object": 0}}}}]})",
       "step 1 (expect_state): expect_state.guests.0: unknown key 'object'"},
      {R"({"steps": [{"expect_state": {"shm": {"range": 0}}}]})",
       "step 1 (expect_state): expect_state.shm: unknown key 'range'"},
      {R"({"steps": [], "stpes": []})", "scenario: unknown key 'stpes'"},
      {R"({"config": {"thread": 4}, "steps": []})", "config: unknown key 'thread'"},
      {R"({"config": {"quota": {"pages": "lots"}}, "steps": []})", "config.quota.pages: unknown name 'lots'"},
      {R"({"config": {"threads": 0}, "steps": []})", "config.threads: must be at least 1"},
      {R"({"config": {"table_pages": 16385}, "steps": []})",
       "config.table_pages: '16385' is out of range (at most 0x4000)"},
      {R"({"config": {"virtualization": "yes"}, "steps": []})",
       "config.virtualization: expected true or false, got a string"},
      {R"({"config": {"platform": "fvp"}, "steps": []})",
       "config.platform: unknown platform 'fvp' (built in: qemu-virt)"},
      {R"({"config": {"threads": "$a0"}, "steps": []})", "config.threads: a reference ('$a0') cannot be used here"},
      {R"({"steps": [{"register_shm": {"pages": ["0x44000000"]}}]})",
       "step 1 (register_shm): register_shm: missing 'cookie'"},
      {R"({"steps": [{"register_shm": {"cookie": 1}}]})",
       "step 1 (register_shm): register_shm: 'size' is needed when 'pages' is not given (the list is already at "
       "'list_at')"},
      {R"({"steps": [{"smc": {"a1": 1}}]})", "step 1 (smc): smc: missing 'a0'"},
      {R"({"steps": [{"invoke": {"func": 0}}]})", "step 1 (invoke): invoke: missing 'session'"},
      {R"({"steps": [{"page_list": {"at": 0}}]})", "step 1 (page_list): page_list: missing 'pages'"},
      {R"({"description": "no steps"})", "scenario: missing 'steps'"},
      {R"({"steps": [{"name": "twice", "smc": {"a0": 1, "a0": 2}}]})", "step 1 (twice): smc: duplicate key 'a0'"},
      {R"({"steps": [], "steps": []})", "scenario: duplicate key 'steps'"},
      {R"({"steps": [{"smc": {"a0": 1}, "vm_created": 1}]})",
       "step 1 (smc): one kind per step: both 'smc' and 'vm_created'"},
      {R"({"steps": [{"name": "nothing"}]})",
       "step 1 (nothing): no step kind (one of: write, page_list, message, smc, call, register_shm, "
       "unregister_shm, open_session, invoke, close_session, return_from_rpc, vm_created, vm_destroyed, "
       "set_quota, expect_memory, expect_message, expect_state)"},
      {R"({"steps": [{"write": {"pa": 0, "u64": [1], "fill": {"byte": 0, "count": 1}}}]})",
       "step 1 (write): write: one of u64, u32, bytes, pattern, fill: both 'u64' and 'fill'"},
      {R"({"steps": [{"expect_memory": {"pa": 0}}]})",
       "step 1 (expect_memory): expect_memory: missing the data: one of u64, u32, bytes, pattern, fill"},
      // Where expectations and saves make no sense.
      {R"({"steps": [{"write": {"pa": "0x40000000", "u64": [1]}, "expect": {"a0": 0}}]})",
       "step 1 (write): expect: only steps that make an SMC have an answer to expect"},
      {R"({"steps": [{"smc": {"a0": "CALLS_UID"}, "expect": {"ret": 0}}]})",
       "step 1 (smc): smc: a fast call has no message to expect or save from (only CALL_WITH_ARG and "
       "RETURN_FROM_RPC have one)"},
      {R"({"config": {"virtualization": true}, "steps": [{"vm_created": 1, "save": {"s": "session"}}]})",
       "step 1 (vm_created): save.s: vm_created has no message"},
      {R"({"steps": [{"smc": {"a0": 1}, "save": {"x": "a5"}}]})",
       "step 1 (smc): save.x: unknown source 'a5' (a0..a3, cmd, func, session, cancel_id, ret, origin, "
       "num_params, params[N].attr|a|b|c)"},
      {R"({"steps": [{"smc": {"a0": 1}, "save": {"a1": "a0"}}]})", "step 1 (smc): save: 'a1' is a register's name"},
      // References.
      {R"({"steps": [{"smc": {"a0": "$a3"}}]})", "step 1 (smc): smc.a0: '$a3' is not defined: no SMC before this step"},
      {R"({"steps": [{"smc": {"a0": 1}}, {"smc": {"a0": "$token"}}]})",
       "step 2 (smc): smc.a0: '$token' is not saved by an earlier step"},
      {R"({"steps": [{"smc": {"a0": 1}}, {"smc": {"a0": "$a5"}}]})",
       "step 2 (smc): smc.a0: invalid reference '$a5' (answers have a0..a3)"},
      {R"({"steps": [{"return_from_rpc": {}}]})",
       "step 1 (return_from_rpc): return_from_rpc.token: '$a3' is not defined: no SMC before this step"},
      // Not JSON, or not the right JSON.
      {R"({"steps": [}")",
       "invalid JSON: parse error at line 1, column 12: syntax error while parsing value - "
       "unexpected '}'; expected '[', '{', or a literal"},
      {R"([])", "expected an object with 'steps', got an array"},
      {R"({"steps": {}})", "steps: expected an array, got an object"},
      {R"({"steps": [3]})", "step 1: expected an object, got a number"},
  };
  for (const Malformed& c : cases) {
    const Outcome o = simulate(c.scenario, "test.json");
    EXPECT_EQ(o.status, 2) << c.scenario;
    EXPECT_EQ(o.error, c.error) << c.scenario;
    EXPECT_TRUE(o.output.empty()) << c.scenario;
  }
}

// A scenario that is wrong only at step 3 runs nothing: a state change at step 1 would show in the
// output, and there is none.
TEST(SimScenario, NothingRunsWhenAnyStepIsMalformed) {
  const Outcome o = simulate(R"({"steps": [
      {"register_shm": {"cookie": 1, "pages": ["0x44000000"]}},
      {"smc": {"a0": "CALLS_UID"}},
      {"smc": {"a0": "0xZ"}}]})",
                             "t.json");
  EXPECT_EQ(o.status, 2);
  EXPECT_EQ(o.error, "step 3 (smc): smc.a0: invalid number '0xZ'");
  EXPECT_TRUE(o.output.empty());
}

// What only shows when the step runs (a value from an answer out of its field's range, memory the
// normal world cannot reach) is still the scenario's fault: exit 2, the step named.
TEST(SimScenario, RunTimeMistakesAreMalformedToo) {
  const Malformed cases[] = {
      {R"({"steps": [{"write": {"pa": "0x0e100000", "u64": [1]}}]})",
       "step 1 (write): write: PA 0xe100000 (8 bytes) is not normal-world memory (non-secure DDR)"},
      {R"({"steps": [{"expect_memory": {"pa": "0x80000000", "bytes": "00"}}]})",
       "step 1 (expect_memory): expect_memory: PA 0x80000000 (1 bytes) is not normal-world memory (non-secure DDR)"},
      {R"({"steps": [{"open_session": {"uuid": )" + std::string(kServiceUuid) +
           R"(}, "save": {"uuid": "params[0].a"}}, {"invoke": {"session": "$uuid", "func": 0}}]})",
       "step 2 (invoke): invoke.session: '$uuid' is 0x2a4d7e3b102d8c5f, out of range (at most 0xffffffff)"},
      {R"({"steps": [{"smc": {"a0": "CALLS_UID"}, "save": {"big": "a1"}},
                     {"register_shm": {"cookie": 1, "offset": "$big", "pages": ["0x44000000"]}}]})",
       "step 2 (register_shm): register_shm.offset: '$big' is 0xe7f811e3, out of range (at most 0xfff)"},
      {R"({"steps": [{"register_shm": {"cookie": 1, "list_at": "0x41000800", "pages": ["0x44000000"]}}]})",
       "step 1 (register_shm): register_shm.list_at: 0x41000800 is not 4 KiB aligned"},
      {R"({"steps": [{"smc": {"a0": "CALLS_UID"}}, {"smc": {"a0": "RETURN_FROM_RPC", "a3": 5}, "expect": {"ret": 0}}]})",
       "step 2 (smc): no message to read: this SMC names no message the scenario wrote (use expect_message with "
       "'at')"},
  };
  for (const Malformed& c : cases) {
    const Outcome o = simulate(c.scenario, "test.json");
    EXPECT_EQ(o.status, 2) << c.scenario;
    EXPECT_EQ(o.error, c.error) << c.scenario;
    EXPECT_TRUE(o.output.empty()) << c.scenario;
  }
}

// ---- Unmet expectations: exit 1, the step named, the replay up to it on stdout -----------------------

TEST(SimScenario, UnmetExpectationsNameTheStep) {
  const Malformed cases[] = {
      {R"({"steps": [{"smc": {"a0": "CALLS_REVISION"}}, {"name": "probe", "smc": {"a0": "CALLS_UID"}, "expect": {"a0": 0}}]})",
       "step 2 (probe): expected a0 = 0x0, got 0x384fb3e0"},
      {R"({"steps": [{"smc": {"a0": "CALL_WITH_ARG", "a2": "0x0e100000"}, "expect": {"a0": "RETURN_OK"}}]})",
       "step 1 (smc): expected a0 = 0x0 (RETURN_OK), got 0x4 (RETURN_EBADADDR)"},
      {R"({"steps": [{"register_shm": {"cookie": 1, "pages": ["0x0e100000"]}, "expect": {"a0": 0, "ret": 0}}]})",
       "step 1 (register_shm): expected message ret = 0x0 (TEE_SUCCESS), got 0xffff0006 (TEE_ERROR_BAD_PARAMETERS)"},
      {R"({"steps": [{"open_session": {"uuid": )" + std::string(kServiceUuid) +
           R"(}, "expect": {"params": [null, {"c": 1}]}}]})",
       "step 1 (open_session): expected message params[1].c = 0x1, got 0x0"},
      {R"({"steps": [{"write": {"pa": "0x40000000", "bytes": "0102"}}, {"expect_memory": {"pa": "0x40000000", "bytes": "0103"}}]})",
       "step 2 (expect_memory): expected byte at PA 0x40000001 = 0x3, got 0x2"},
      {R"({"steps": [{"write": {"pa": "0x40000000", "u64": [1, 2]}}, {"expect_memory": {"pa": "0x40000000", "u64": [1, 3]}}]})",
       "step 2 (expect_memory): expected u64 at PA 0x40000008 = 0x3, got 0x2"},
      {R"({"steps": [{"expect_state": {"shm": {"ranges": 1}}}]})",
       "step 1 (expect_state): expected state shm.ranges = 1, got 0"},
      {R"({"steps": [{"expect_state": {"guests": {"0": null}}}]})",
       "step 1 (expect_state): expected state guests.0 = null (no such guest), got a live guest"},
      {R"({"steps": [{"expect_state": {"guests": {"3": {"sessions": 0}}}}]})",
       "step 1 (expect_state): expected state guests.3.sessions, got nothing (no such guest)"},
      {R"({"steps": [{"register_shm": {"cookie": 7, "pages": ["0x44000000"]}},
                     {"expect_state": {"guests": {"0": {"objects": [8]}}}}]})",
       "step 2 (expect_state): expected state guests.0.objects = [0x8], got [0x7]"},
      {R"({"steps": [{"expect_state": {"live_guests": [1]}}]})",
       "step 1 (expect_state): expected state live_guests = [0x1], got [0x0]"},
      {R"({"steps": [{"expect_state": {"audit": false}}]})",
       "step 1 (expect_state): expected state audit = false, got true"},
      {R"({"steps": [{"set_quota": {"guest": 4, "threads": 1}}]})",
       "step 1 (set_quota): set_quota: guest 4 is not live"},
  };
  for (const Malformed& c : cases) {
    const Outcome o = simulate(c.scenario, "test.json");
    EXPECT_EQ(o.status, 1) << c.scenario;
    EXPECT_EQ(o.error, c.error) << c.scenario;
    ASSERT_FALSE(o.output.empty()) << c.scenario;
    const Json doc = Json::parse(o.output);
    EXPECT_FALSE(doc["passed"].get<bool>());
    EXPECT_EQ(doc["failure"]["error"].get<std::string>(), c.error.substr(c.error.find("): ") + 3)) << c.scenario;
  }
}

TEST(SimScenario, AFailureStopsTheReplayAtItsStep) {
  const Outcome o = simulate(R"({"steps": [
      {"smc": {"a0": "CALLS_UID"}},
      {"name": "wrong", "smc": {"a0": "CALLS_REVISION"}, "expect": {"a0": 3}},
      {"register_shm": {"cookie": 1, "pages": ["0x44000000"]}}]})",
                             "t.json");
  ASSERT_EQ(o.status, 1);
  const Json doc = Json::parse(o.output);
  EXPECT_EQ(doc["failure"], Json::parse(R"({"step": 2, "name": "wrong", "error": "expected a0 = 0x3, got 0x2"})"));
  ASSERT_EQ(doc["steps"].size(), 2u);  // the failing step's answer is shown; step 3 never ran
  EXPECT_EQ(doc["steps"][1]["out"]["a0"], "0x2");
  EXPECT_EQ(doc["state"]["objects"], 0);
}

// ---- The output ------------------------------------------------------------------------------------------

TEST(SimScenario, OutputHasTheDocumentedFields) {
  const std::string scenario = R"({"description": "fields", "steps": [
      {"name": "probe", "smc": {"a0": "CALLS_UID"}},
      {"write": {"pa": "0x40000000", "u32": [1, 2]}},
      {"page_list": {"at": "0x41000000", "pages": [{"first": "0x44000000", "count": 600}]}},
      {"register_shm": {"cookie": "0xC00C1E", "offset": 16, "pages": ["0x44000000", "0x44002000"]}},
      {"open_session": {"uuid": )" +
                               std::string(kServiceUuid) +
                               R"(}, "save": {"s": "session"}},
      {"invoke": {"session": "$s", "func": "SERVICE_RPC_ALLOC", "params": [{"attr": "VALUE_INOUT", "a": 100}]}},
      {"expect_state": {"threads": {"suspended": 1}}}]})";
  const Outcome o = simulate(scenario, "fields.json");
  ASSERT_EQ(o.status, 0) << o.error;
  EXPECT_TRUE(o.error.empty());
  const Json doc = Json::parse(o.output);
  EXPECT_EQ(keys_of(doc),
            (std::vector<std::string>{"scenario", "description", "platform", "passed", "failure", "steps", "state"}));
  EXPECT_EQ(doc["scenario"], "fields.json");
  EXPECT_EQ(doc["description"], "fields");
  EXPECT_EQ(doc["platform"], "qemu-virt");
  EXPECT_EQ(doc["passed"], true);
  EXPECT_TRUE(doc["failure"].is_null());
  const Json& steps = doc["steps"];
  ASSERT_EQ(steps.size(), 7u);
  // An SMC: its registers in and out, as hex strings.
  EXPECT_EQ(keys_of(steps[0]), (std::vector<std::string>{"step", "name", "kind", "in", "out"}));
  EXPECT_EQ(steps[0]["step"], 1);
  EXPECT_EQ(steps[0]["name"], "probe");
  EXPECT_EQ(steps[0]["kind"], "smc");
  EXPECT_EQ(keys_of(steps[0]["in"]), (std::vector<std::string>{"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"}));
  EXPECT_EQ(steps[0]["in"]["a0"], "0xbf00ff01");
  EXPECT_EQ(steps[0]["out"],
            Json::parse(R"({"a0": "0x384fb3e0", "a1": "0xe7f811e3", "a2": "0xaf630002", "a3": "0xa5d5c51b"})"));
  // Writes say where and how much.
  EXPECT_EQ(steps[1], Json::parse(R"({"step": 2, "name": null, "kind": "write", "pa": "0x40000000", "size": 8})"));
  EXPECT_EQ(steps[2], Json::parse(R"({"step": 3, "name": null, "kind": "page_list", "at": "0x41000000", "pages": 600,
                                      "list_pages": 2})"));
  // A yielding call that completed: the answer's name and the message as the secure side left it.
  EXPECT_EQ(keys_of(steps[3]), (std::vector<std::string>{"step", "name", "kind", "in", "out", "answer", "message"}));
  EXPECT_EQ(steps[3]["answer"], "RETURN_OK");
  EXPECT_EQ(steps[3]["in"]["a2"], "0x40100000");  // the first message slot
  const Json& message = steps[3]["message"];
  EXPECT_EQ(keys_of(message), (std::vector<std::string>{"at", "cmd", "func", "session", "ret", "ret_name", "origin",
                                                        "origin_name", "num_params", "params"}));
  EXPECT_EQ(message["cmd"], 4);
  EXPECT_EQ(message["ret"], "0x0");
  EXPECT_EQ(message["ret_name"], "TEE_SUCCESS");
  EXPECT_EQ(message["origin_name"], "TEE_ORIGIN_TEE");
  EXPECT_EQ(message["params"],
            Json::parse(R"([{"attr": "0x20a", "a": "0x41000010", "b": "0x1ff0", "c": "0xc00c1e"}])"));
  // A call suspended in an RPC: its answer, no message yet.
  EXPECT_EQ(steps[5]["answer"], "RETURN_RPC_ALLOC");
  EXPECT_FALSE(steps[5].contains("message"));
  EXPECT_EQ(steps[6], Json::parse(R"({"step": 7, "name": null, "kind": "expect_state"})"));

  const Json& state = doc["state"];
  EXPECT_EQ(keys_of(state), (std::vector<std::string>{"live_guests", "guests", "objects", "shm", "io", "ranges",
                                                      "table_pages", "pa_index_runs", "threads", "audit"}));
  EXPECT_EQ(state["live_guests"], Json::parse("[0]"));
  const Json& guest = state["guests"]["0"];
  EXPECT_EQ(keys_of(guest), (std::vector<std::string>{"objects", "sessions", "usage", "quota"}));
  ASSERT_EQ(guest["objects"].size(), 1u);
  EXPECT_EQ(keys_of(guest["objects"][0]),
            (std::vector<std::string>{"cookie", "va", "offset", "size", "pages", "users"}));
  EXPECT_EQ(guest["objects"][0]["cookie"], "0xc00c1e");
  EXPECT_EQ(guest["objects"][0]["offset"], 16);
  EXPECT_EQ(guest["objects"][0]["size"], 0x1ff0);
  EXPECT_EQ(guest["objects"][0]["pages"], 2);
  EXPECT_EQ(guest["sessions"], 1);
  EXPECT_EQ(guest["usage"], Json::parse(R"({"buffers": 2, "pages": 3, "threads": 1})"));  // the RPC buffer counts
  EXPECT_EQ(guest["quota"], Json::parse(R"({"buffers": 256, "pages": 65536, "threads": 4})"));
  EXPECT_EQ(state["objects"], 1);
  EXPECT_EQ(keys_of(state["shm"]), (std::vector<std::string>{"ranges", "pages", "va_in_use"}));
  EXPECT_EQ(state["shm"]["ranges"], 1);
  EXPECT_EQ(state["shm"]["pages"], 2);
  EXPECT_EQ(state["shm"]["va_in_use"], 3 * 4096);  // two pages and the guard page
  EXPECT_EQ(state["io"], Json::parse(R"({"ranges": 0, "pages": 0, "va_in_use": 0})"));
  ASSERT_EQ(state["ranges"].size(), 1u);
  EXPECT_EQ(keys_of(state["ranges"][0]), (std::vector<std::string>{"kind", "va", "size", "pa", "owner", "cookie"}));
  EXPECT_EQ(state["ranges"][0]["kind"], "shm-unindexed");  // registered buffers stay out of the PA index
  EXPECT_EQ(state["ranges"][0]["pa"], "0x000044000000");
  EXPECT_EQ(state["ranges"][0]["cookie"], "0xc00c1e");
  EXPECT_EQ(state["pa_index_runs"], 0);
  EXPECT_GT(state["table_pages"].get<int>(), 7);
  EXPECT_EQ(state["threads"], Json::parse(R"({"free": 3, "running": 0, "suspended": 1})"));
  EXPECT_EQ(state["audit"], true);
}

// Every call in flight keeps its message page; a resumption is checked against that page.
TEST(SimScenario, CallsInFlightGetMessagePagesOfTheirOwn) {
  const std::string scenario = R"({"steps": [
      {"open_session": {"uuid": )" +
                               std::string(kServiceUuid) +
                               R"(}, "save": {"s": "session"}},
      {"invoke": {"session": "$s", "func": "SERVICE_RPC_ALLOC", "params": [{"attr": "VALUE_INOUT", "a": 10}]},
       "save": {"first": "a3"}},
      {"invoke": {"session": "$s", "func": "SERVICE_RPC_ALLOC", "params": [{"attr": "VALUE_INOUT", "a": 20}]},
       "save": {"second": "a3"}},
      {"unregister_shm": {"cookie": 5}, "expect": {"ret": "TEE_ERROR_ITEM_NOT_FOUND"}},
      {"return_from_rpc": {"token": "$first", "pa": 0}, "expect": {"a0": 0, "ret": "TEE_ERROR_OUT_OF_MEMORY", "params": [{"a": 10}]}},
      {"return_from_rpc": {"token": "$second", "pa": 0}, "expect": {"ret": "TEE_ERROR_OUT_OF_MEMORY", "params": [{"a": 20}]}}]})";
  const Outcome o = simulate(scenario, "t.json");
  ASSERT_EQ(o.status, 0) << o.error;
  const Json doc = Json::parse(o.output);
  EXPECT_EQ(doc["steps"][1]["in"]["a2"], "0x40100000");
  EXPECT_EQ(doc["steps"][2]["in"]["a2"], "0x40101000");
  EXPECT_EQ(doc["steps"][3]["in"]["a2"], "0x40102000");
  EXPECT_EQ(doc["steps"][4]["message"]["at"], "0x40100000");
  EXPECT_EQ(doc["steps"][5]["message"]["at"], "0x40101000");
}

TEST(SimScenario, UuidsAndNamesEncodeAsTheAbiSays) {
  uint64_t a = 0, b = 0;
  ASSERT_TRUE(teemm::tool::sim::parse_uuid("7011a688-ddde-4053-a5a9-7b3c4ddf13b8", &a, &b));
  EXPECT_EQ(a, 0x5340dedd88a61170u);  // linux-optee-driver.md §6, observed
  EXPECT_EQ(b, 0xb813df4d3c7ba9a5u);
  ASSERT_TRUE(teemm::tool::sim::parse_uuid("00010203-0405-0607-0809-0a0b0c0d0e0f", &a, &b));
  EXPECT_EQ(a, 0x0706050403020100u);
  EXPECT_FALSE(teemm::tool::sim::parse_uuid("00010203-0405-0607-0809_0a0b0c0d0e0f", &a, &b));
  EXPECT_FALSE(teemm::tool::sim::parse_uuid("0001020304050607080900a0b0c0d0e0f", &a, &b));
  EXPECT_EQ(teemm::tool::sim::symbol_value("CALL_WITH_ARG"), 0x32000004u);
  EXPECT_EQ(teemm::tool::sim::symbol_value("RETURN_RPC_FREE"), 0xFFFF0002u);
  EXPECT_EQ(teemm::tool::sim::symbol_value("TEE_ERROR_BUSY"), 0xFFFF000Du);
  EXPECT_EQ(teemm::tool::sim::symbol_value("NONCONTIG"), 0x200u);
  EXPECT_FALSE(teemm::tool::sim::symbol_value("call_with_arg"));
}

// ---- The command line --------------------------------------------------------------------------------

TEST(SimCli, ExitStatusesAndOneLineOnStderr) {
  CliRun r = run_scenario(R"({"steps": [{"smc": {"a0": "CALLS_UID"}, "expect": {"a0": "0x384fb3e0"}}]})");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty());
  EXPECT_TRUE(Json::parse(r.out)["passed"].get<bool>());

  r = run_scenario(R"({"steps": [{"name": "register buffer", "smc": {"a0": "CALL_WITH_ARG", "a2": "0x0e100000"},
                                  "expect": {"a0": 0}}]})");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "teemm: step 1 (register buffer): expected a0 = 0x0 (RETURN_OK), got 0x4 (RETURN_EBADADDR)\n");
  EXPECT_FALSE(Json::parse(r.out)["passed"].get<bool>());

  r = run_scenario(R"({"steps": [{"smc": {"a0": "CALLS_UID"}}, {"name": "typo", "smc": {"a0": "0x", "a1": 0}}]})");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "teemm: step 2 (typo): smc.a0: invalid number '0x'\n");
  EXPECT_TRUE(r.out.empty());
}

TEST(SimCli, CommandLineMistakesExitTwo) {
  CliRun r = run_cli("sim");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "teemm: sim takes exactly one scenario file\n");
  r = run_cli("sim a.json b.json");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "teemm: sim takes exactly one scenario file\n");
  r = run_cli("sim /nonexistent/scenario.json");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "teemm: cannot read scenario '/nonexistent/scenario.json'\n");
  r = run_cli("sim x.json --json");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "teemm: unknown option '--json' (see teemm --help)\n");
  EXPECT_EQ(count_lines(r.err), 1);
}

TEST(SimCli, HelpNamesTheCommandAndTheFormat) {
  for (const char* arguments : {"sim --help", "help sim"}) {
    const CliRun r = run_cli(arguments);
    EXPECT_EQ(r.status, 0) << arguments;
    EXPECT_NE(r.out.find("usage: teemm sim SCENARIO"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("docs/SCENARIOS.md"), std::string::npos) << r.out;
    EXPECT_TRUE(r.err.empty());
  }
  const CliRun top = run_cli("--help");
  EXPECT_NE(top.out.find("  sim "), std::string::npos) << top.out;
}

}  // namespace
