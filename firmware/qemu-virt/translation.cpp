// firmware/qemu-virt/translation.cpp: see translation.hpp.
#include "translation.hpp"

#include "console.hpp"
#include "exceptions.hpp"
#include "sysreg.hpp"

namespace teemm::fw::conf {
namespace {

using arm64::FaultKind;
using arm64::WalkResult;

// A failed comparison, collected into one line per VA.
struct Findings {
  char text[200];
  uint64_t len = 0;
  void add(const char* what) {
    for (const char* p = len == 0 ? "" : "; "; *p != '\0' && len + 1 < sizeof(text); ++p) text[len++] = *p;
    for (const char* p = what; *p != '\0' && len + 1 < sizeof(text); ++p) text[len++] = *p;
    text[len] = '\0';
  }
  bool any() const { return len != 0; }
};

// Expectation vs walker: does our walk of our tables say what the memory type asked for?
void compare_map_walker(Regime regime, const Expectation& e, const WalkResult& w, Findings& f) {
  if (e.mapped != w.ok()) {
    f.add(e.mapped ? "map: mapped, walker: fault" : "map: unmapped, walker: translates");
    return;
  }
  if (!e.mapped) {
    if (w.fault != FaultKind::kTranslation) f.add("walker: unexpected fault kind");
    return;
  }
  if (w.output != e.pa) f.add("map/walker PA differ");
  if (w.attributes.non_secure != e.non_secure) f.add("map/walker NS differ");
  if (w.attributes.memory != e.memory) f.add("map/walker memory kind differ");
  if (w.attributes.privileged.read != e.access.read) f.add("map/walker read permission differ");
  if (w.attributes.privileged.write != e.access.write) f.add("map/walker write permission differ");
  if (walker_executable(regime, w) != e.access.execute) f.add("map/walker execute permission differ");
  if (reported_shareability(w.attributes.memory, w.attributes.shareability) !=
      reported_shareability(e.memory, e.memory == arm64::MemoryKind::kNormalWriteBack ? arm64::kShareInner : 0))
    f.add("map/walker shareability differ");
}

// One PAR against what a walk predicts for an access that is (or is not) permitted.
void compare_par(const char* op, uint64_t va, const WalkResult& w, bool permitted, uint64_t par, Findings& f) {
  char what[64];
  if (!w.ok() || !permitted) {
    const unsigned fst = w.ok() ? fsc_permission(w.level) : fault_status_of(w);
    if (!par_faulted(par)) {
      snprintf(what, sizeof(what), "%s: walker fault 0x%02x, CPU translates", op, fst);
      f.add(what);
    } else if (par_fst(par) != fst) {
      snprintf(what, sizeof(what), "%s: fault 0x%02x, CPU 0x%02x", op, fst, par_fst(par));
      f.add(what);
    }
    return;
  }
  if (par_faulted(par)) {
    snprintf(what, sizeof(what), "%s: walker translates, CPU fault 0x%02x", op, par_fst(par));
    f.add(what);
    return;
  }
  if ((par_pa(par) | (va & kPageMask)) != w.output) {
    snprintf(what, sizeof(what), "%s: PA", op);
    f.add(what);
  }
  if (((par & kParNS) != 0) != w.attributes.non_secure) {
    snprintf(what, sizeof(what), "%s: NS", op);
    f.add(what);
  }
  if (par_attr(par) != mair_byte(w.attributes.memory)) {
    snprintf(what, sizeof(what), "%s: ATTR 0x%02x, walker 0x%02x", op, par_attr(par), mair_byte(w.attributes.memory));
    f.add(what);
  }
  if (par_sh(par) != reported_shareability(w.attributes.memory, w.attributes.shareability)) {
    snprintf(what, sizeof(what), "%s: SH %u", op, par_sh(par));
    f.add(what);
  }
}

// Expectation vs CPU directly, so that a walker that agrees with a wrong CPU (or the reverse) does
// not hide which side the type disagrees with.
void compare_map_cpu(const Expectation& e, ParPair par, Findings& f) {
  if (e.mapped == par_faulted(par.read)) f.add(e.mapped ? "map: mapped, CPU read faults" : "map: unmapped, CPU reads");
  if (!e.mapped || par_faulted(par.read)) return;
  if (par_pa(par.read) != (e.pa & ~kPageMask)) f.add("map/CPU PA differ");
  if (((par.read & kParNS) != 0) != e.non_secure) f.add("map/CPU NS differ");
  if (par_attr(par.read) != mair_byte(e.memory)) f.add("map/CPU ATTR differ");
  if (e.access.write == par_faulted(par.write))
    f.add(e.access.write ? "type writable, CPU write faults" : "type read-only, CPU write allowed");
}

}  // namespace

ParPair translate_with_cpu(Regime regime, uint64_t va) {
  if (regime == Regime::kEl3) return {at_s1e3r(va), at_s1e3w(va)};
  return {at_s1e1r(va), at_s1e1w(va)};
}

unsigned fault_status_of(const WalkResult& w) {
  switch (w.fault) {
    case FaultKind::kNone: return 0;
    case FaultKind::kTranslation: return fsc_translation(w.level);
    case FaultKind::kAccessFlag: return fsc_access_flag(w.level);
    case FaultKind::kExternalAbort: return kFscSyncExternal;
    case FaultKind::kAddressSize: return w.level;  // address size fault, level 0..3: FSC 0b0000LL
  }
  return 0x3f;
}

bool walker_executable(Regime regime, const WalkResult& w) {
  return regime == Regime::kEl3 ? w.attributes.single_privilege_execute : w.attributes.privileged.execute;
}

WalkResult walk_stage1(const arm64::TablePool& pool, PhysAddr root, uint64_t va) {
  return arm64::walk(arm64::TableMemory{&pool}, root, arm64::Stage::kStage1, kVaBits, va);
}

bool check_translation(Part part, Regime regime, uint64_t va, const Expectation& expected, const WalkResult& walk,
                       ParPair par) {
  count_translations(part, 2);
  Findings f;
  compare_map_walker(regime, expected, walk, f);
  compare_par("R", va, walk, walk.ok() && walk.attributes.privileged.read, par.read, f);
  compare_par("W", va, walk, walk.ok() && walk.attributes.privileged.write, par.write, f);
  compare_map_cpu(expected, par, f);
  if (!f.any()) return true;
  char r[48];
  char w[48];
  describe_par(par.read, r, sizeof(r));
  describe_par(par.write, w, sizeof(w));
  mismatch(part, "VA 0x%010lx (%s): %s\n      map: %s PA 0x%lx %s %s%s%s; walker: %s L%u desc 0x%016lx; CPU R %s, W %s",
           va, expected.name, f.text, expected.mapped ? "mapped" : "unmapped", expected.pa,
           memory_kind_name(expected.memory), expected.access.read ? "r" : "-", expected.access.write ? "w" : "-",
           expected.access.execute ? "x" : "-", walk.ok() ? "translates" : arm64::fault_kind_name(walk.fault),
           walk.level, walk.descriptor, r, w);
  return false;
}

const char* describe_par(uint64_t par, char* buf, uint64_t size) {
  if (par_faulted(par)) {
    snprintf(buf, size, "fault %s%s%s", fault_status_name(par_fst(par)), (par & kParS) ? " (stage 2)" : "",
             (par & kParPtw) ? " (on walk)" : "");
  } else {
    snprintf(buf, size, "PA 0x%lx%s ATTR 0x%02x SH %u", par_pa(par), (par & kParNS) ? " NS" : "", par_attr(par),
             par_sh(par));
  }
  return buf;
}

}  // namespace teemm::fw::conf
