// firmware/qemu-virt/el0.cpp: see el0.hpp.
#include "el0.hpp"

#include "console.hpp"
#include "exceptions.hpp"

extern "C" {
uint64_t fw_el0_call(uint64_t entry, uint64_t x0, uint64_t x1, uint64_t x30);
extern const uint32_t fw_el0_page[];
extern volatile teemm::fw::TrapFrame fw_el0_exit;
}

namespace teemm::fw {
namespace {

constexpr uint64_t kFill = kEl0WindowVa + FW_EL0_SVC_OFFSET;

struct Exit {
  uint64_t esr;
  uint64_t far;
  uint64_t elr;
  uint64_t x1;
};

Exit call(uint64_t entry, uint64_t x0, uint64_t x1) {
  fw_el0_call(entry, x0, x1, kFill);
  return {fw_el0_exit.esr, fw_el0_exit.far, fw_el0_exit.elr, fw_el0_exit.x[1]};
}

bool is_svc(const Exit& e, unsigned imm) { return esr_ec(e.esr) == kEcSvc64 && esr_imm16(e.esr) == imm; }

El0Result data_access(uint64_t probe_offset, uint64_t va, uint64_t value) {
  const Exit e = call(kEl0WindowVa + probe_offset, va, value);
  El0Result r;
  // Completed: the svc right after the access, nothing else.
  r.faulted = !(is_svc(e, FW_EL0_SVC_DONE) && e.elr == kEl0WindowVa + probe_offset + 8);
  r.esr = e.esr;
  r.far = e.far;
  r.elr = e.elr;
  r.value = e.x1;
  return r;
}

}  // namespace

uint64_t el0_page() { return reinterpret_cast<uint64_t>(&fw_el0_page[0]); }

El0Result el0_load(uint64_t va) { return data_access(FW_EL0_LOAD_OFFSET, va, 0); }
El0Result el0_load32(uint64_t va) { return data_access(FW_EL0_LOAD32_OFFSET, va, 0); }
El0Result el0_store(uint64_t va, uint64_t value) { return data_access(FW_EL0_STORE_OFFSET, va, value); }

El0Result el0_fetch(uint64_t va) {
  const Exit e = call(va, 0, 0);
  El0Result r;
  r.faulted = esr_ec(e.esr) == kEcInstAbortLower && e.elr == va;
  r.esr = e.esr;
  r.far = e.far;
  r.elr = e.elr;
  return r;
}

const char* describe_el0(const El0Result& r, char* buf, uint64_t size) {
  const unsigned ec = esr_ec(r.esr);
  if (!r.faulted)
    snprintf(buf, size, "completed (ended by EC 0x%02x %s, ELR 0x%lx)", ec, esr_class_name(ec), r.elr);
  else
    snprintf(buf, size, "faulted: ESR 0x%lx (EC 0x%02x, %s) FAR 0x%lx ELR 0x%lx", r.esr, ec,
             fault_status_name(esr_fsc(r.esr)), r.far, r.elr);
  return buf;
}

}  // namespace teemm::fw
