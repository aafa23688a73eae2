// firmware/qemu-virt/selftest: proves the firmware infrastructure on the machine before any real
// check relies on it: printing, the probes with the MMU off and on (with a small hand-made EL3 table),
// AT at EL3, TLB maintenance, a secure-EL1 round trip and a stage-2 AT round trip through the
// non-secure EL2 agent. Leaves the machine as it found it (MMU off, EL3, secure).
#pragma once

namespace teemm::fw {

// Returns the number of failed checks (0 = the infrastructure works).
int run_selftest(bool verbose);

}  // namespace teemm::fw
