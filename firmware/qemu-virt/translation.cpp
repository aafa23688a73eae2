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
  char text[256];
  uint64_t len = 0;
  void add(const char* what) {
    for (const char* p = len == 0 ? "" : "; "; *p != '\0' && len + 1 < sizeof(text); ++p) text[len++] = *p;
    for (const char* p = what; *p != '\0' && len + 1 < sizeof(text); ++p) text[len++] = *p;
    text[len] = '\0';
  }
  bool any() const { return len != 0; }
};

const char* access_letters(arm64::Access a) {
  static const char* const kLetters[] = {"---", "r--", "-w-", "rw-", "--x", "r-x", "-wx", "rwx"};
  return kLetters[(a.read ? 1 : 0) | (a.write ? 2 : 0) | (a.execute ? 4 : 0)];
}

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
  const char* level = regime == Regime::kSecureEl0 ? "EL0 " : "";
  const arm64::Access want = expected_access(regime, e);
  const arm64::Access got = walker_access(regime, w);
  char what[64];
  if (w.output != e.pa) f.add("map/walker PA differ");
  if (w.attributes.non_secure != e.non_secure) f.add("map/walker NS differ");
  if (w.attributes.memory != e.memory) f.add("map/walker memory kind differ");
  if (got.read != want.read) {
    snprintf(what, sizeof(what), "map/walker %sread permission differ", level);
    f.add(what);
  }
  if (got.write != want.write) {
    snprintf(what, sizeof(what), "map/walker %swrite permission differ", level);
    f.add(what);
  }
  if (got.execute != want.execute) {
    snprintf(what, sizeof(what), "map/walker %sexecute permission differ (map %s, walker %s)", level,
             want.execute ? "x" : "-", got.execute ? "x" : "-");
    f.add(what);
  }
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

bool is_permission_fault(uint64_t par) { return par_faulted(par) && (par_fst(par) & 0x3c) == fsc_permission(0); }

// Expectation vs CPU directly, so that a walker that agrees with a wrong CPU (or the reverse) does
// not hide which side the type disagrees with. A mapped page the level may not read must fault
// with a permission fault (the translation exists), an unmapped one never with one.
void compare_map_cpu(Regime regime, const Expectation& e, ParPair par, Findings& f) {
  const arm64::Access want = expected_access(regime, e);
  const bool readable = e.mapped && want.read;
  if (readable == par_faulted(par.read))
    f.add(readable ? "map: readable, CPU read faults" : "map: not readable, CPU reads");
  if (e.mapped && !readable && par_faulted(par.read) && !is_permission_fault(par.read))
    f.add("map: mapped, not readable: CPU read fault is not a permission fault");
  if (!e.mapped && is_permission_fault(par.read)) f.add("map: unmapped, CPU read gives a permission fault");
  if (e.mapped && want.write == par_faulted(par.write))
    f.add(want.write ? "type writable, CPU write faults" : "type read-only, CPU write allowed");
  if (e.mapped && !want.write && par_faulted(par.write) && !is_permission_fault(par.write))
    f.add("map: mapped, not writable: CPU write fault is not a permission fault");
  if (!readable || par_faulted(par.read)) return;
  if (par_pa(par.read) != (e.pa & ~kPageMask)) f.add("map/CPU PA differ");
  if (((par.read & kParNS) != 0) != e.non_secure) f.add("map/CPU NS differ");
  if (par_attr(par.read) != mair_byte(e.memory)) f.add("map/CPU ATTR differ");
}

}  // namespace

const arm64::Stage1Table& table_of(Regime regime) {
  return regime == Regime::kEl3 ? *system().table : *system().el1_table;
}

Expectation expect_in(Regime regime, uint64_t va) {
  Expectation e;
  if (regime != Regime::kEl3 && el0_window_expectation(va, &e)) return e;
  return expect_static(va);
}

ParPair translate_with_cpu(Regime regime, uint64_t va) {
  switch (regime) {
    case Regime::kEl3: return {at_s1e3r(va), at_s1e3w(va)};
    case Regime::kSecureEl1: return {at_s1e1r(va), at_s1e1w(va)};
    case Regime::kSecureEl0: return {at_s1e0r(va), at_s1e0w(va)};
  }
  return {};
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

arm64::Access walker_access(Regime regime, const WalkResult& w) {
  switch (regime) {
    case Regime::kEl3:
      return {w.attributes.privileged.read, w.attributes.privileged.write, w.attributes.single_privilege_execute};
    case Regime::kSecureEl1: return w.attributes.privileged;
    case Regime::kSecureEl0: return w.attributes.unprivileged;
  }
  return {};
}

arm64::Access expected_access(Regime regime, const Expectation& e) {
  return regime == Regime::kSecureEl0 ? e.el0 : e.access;
}

WalkResult walk_regime(Regime regime, uint64_t va) {
  return walk_stage1(*system().pool, table_of(regime).raw().root(), va);
}

WalkResult walk_stage1(const arm64::TablePool& pool, PhysAddr root, uint64_t va) {
  return arm64::walk(arm64::TableMemory{&pool}, root, arm64::Stage::kStage1, kVaBits, va);
}

bool check_translation(Part part, Regime regime, uint64_t va, const Expectation& expected, const WalkResult& walk,
                       ParPair par) {
  count_translations(part, 2);
  Findings f;
  compare_map_walker(regime, expected, walk, f);
  const arm64::Access walked = walker_access(regime, walk);
  compare_par("R", va, walk, walk.ok() && walked.read, par.read, f);
  compare_par("W", va, walk, walk.ok() && walked.write, par.write, f);
  compare_map_cpu(regime, expected, par, f);
  if (!f.any()) return true;
  char r[48];
  char w[48];
  describe_par(par.read, r, sizeof(r));
  describe_par(par.write, w, sizeof(w));
  mismatch(
      part, "VA 0x%010lx (%s): %s\n      map: %s PA 0x%lx %s %s%s; walker: %s L%u desc 0x%016lx %s; CPU R %s, W %s", va,
      expected.name, f.text, expected.mapped ? "mapped" : "unmapped", expected.pa, memory_kind_name(expected.memory),
      regime == Regime::kSecureEl0 ? "EL0 " : "", access_letters(expected_access(regime, expected)),
      walk.ok() ? "translates" : arm64::fault_kind_name(walk.fault), walk.level, walk.descriptor,
      access_letters(walker_access(regime, walk)), r, w);
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
