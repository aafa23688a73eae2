// tools/teemm/simulator: `teemm sim` — replays a scenario (docs/SCENARIOS.md) against the real core:
// a tool::SecureWorld (the dispatcher, address space and tables of the built-in qemu-virt
// platform) driven by the normal world the scenario describes.
#pragma once

#include <string>

namespace teemm::tool::sim {

struct Outcome {
  // 0: every expectation met; 1: one was not (or the secure world would not start); 2: the
  // scenario is malformed (nothing runs when that is seen before the first step).
  int status = 0;
  // The JSON document (docs/SCENARIOS.md, "Output"): every step run with its answer, the state
  // after the last one, and the failure if any. Empty when status is 2.
  std::string output;
  // One line without "teemm: ", naming the step: "step 7 (register buffer): expected a0 = 0x0, got 0x4".
  std::string error;
};

// `text` is the scenario; `source` names it in the output (the file name).
Outcome simulate(const std::string& text, const std::string& source);

}  // namespace teemm::tool::sim
