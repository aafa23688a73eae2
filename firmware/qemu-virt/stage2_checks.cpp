// firmware/qemu-virt/stage2_checks.cpp: see stage2_checks.hpp.
#include "stage2_checks.hpp"

#include "arch/arm64/registers.hpp"
#include "arch/arm64/walker.hpp"
#include "console.hpp"
#include "exceptions.hpp"
#include "layout.hpp"
#include "lower_el.hpp"
#include "platform.hpp"
#include "report.hpp"
#include "rng.hpp"
#include "stage2_layout.hpp"
#include "sysreg.hpp"
#include "translation.hpp"

namespace teemm::fw::conf {
namespace {

using arm64::MemoryKind;
using arm64::WalkResult;
constexpr Part kPart = Part::kStage2;

constexpr uint64_t kHcrRw = uint64_t{1} << 31;
constexpr uint64_t kHcrDc = uint64_t{1} << 12;  // stage 1 off counts as Normal WB, non-shareable
constexpr uint64_t kHcrVm = uint64_t{1} << 0;
constexpr unsigned kRandomIpas = 1500;
constexpr unsigned kRandomVas = 1500;
constexpr uint64_t kLargeRegionStride = 16;  // pages: regions above 1024 pages are sampled

GuestTables* g_tables = nullptr;

// How the compared translations ended (evidence that every kind of outcome was exercised).
struct Outcomes {
  uint64_t translated = 0;
  uint64_t stage1_faults = 0;
  uint64_t stage2_translation = 0;
  uint64_t stage2_permission = 0;
};
Outcomes g_outcomes;

// ---- What the CPU should answer ------------------------------------------------------------------

// One stage's contribution to the final attributes.
struct StageAttributes {
  MemoryKind memory;
  uint64_t shareability;
};

// Combination of stage-1 and stage-2 attributes (Arm ARM "Combining the stage 1 and stage 2
// attributes", no FEAT_S2FWB): Device wins over Normal and the stricter Device type wins; Normal is
// non-cacheable if either stage says so. Device and Normal non-cacheable are Outer Shareable;
// otherwise Outer wins over Inner wins over Non-shareable.
struct Combined {
  unsigned attr;
  unsigned sh;
};
Combined combine(StageAttributes s1, StageAttributes s2) {
  const auto is_device = [](MemoryKind k) {
    return k == MemoryKind::kDevice || k == MemoryKind::kDeviceStronglyOrdered;
  };
  if (is_device(s1.memory) || is_device(s2.memory)) {
    const bool strongly =
        s1.memory == MemoryKind::kDeviceStronglyOrdered || s2.memory == MemoryKind::kDeviceStronglyOrdered;
    return {strongly ? 0x00u : 0x04u, 2};
  }
  if (s1.memory == MemoryKind::kNormalNonCacheable || s2.memory == MemoryKind::kNormalNonCacheable) return {0x44, 2};
  const unsigned sh = (s1.shareability == 2 || s2.shareability == 2)   ? 2
                      : (s1.shareability == 3 || s2.shareability == 3) ? 3
                                                                       : 0;
  return {0xff, sh};
}

// The PAR an AT should produce, from walks (the CPU's expected answer) ...
struct ExpectedPar {
  bool fault = false;
  bool stage2 = false;  // PAR.S
  unsigned fst = 0;
  uint64_t pa = 0;
  Combined attributes{0, 0};
};

WalkResult walk2(uint64_t ipa) {
  return arm64::walk(arm64::TableMemory{g_tables->pool}, g_tables->stage2.raw().root(), arm64::Stage::kStage2, kIpaBits,
                     ipa);
}
WalkResult walk1(uint64_t va) {
  return arm64::walk(arm64::TableMemory{g_tables->pool}, g_tables->stage1.raw().root(), arm64::Stage::kStage1, kVaBits,
                     va);
}

ExpectedPar fault(bool stage2, unsigned fst) { return {true, stage2, fst, 0, {0, 0}}; }

// Stage 2 of a translation whose stage 1 gave `ipa` with attributes s1.
ExpectedPar through_stage2(uint64_t ipa, StageAttributes s1, bool write) {
  const WalkResult w = walk2(ipa);
  if (!w.ok()) return fault(true, fault_status_of(w));
  if (!(write ? w.attributes.privileged.write : w.attributes.privileged.read))
    return fault(true, fsc_permission(w.level));
  return {false, false, 0, w.output, combine(s1, {w.attributes.memory, w.attributes.shareability})};
}

ExpectedPar two_stages(uint64_t va, bool write) {
  const WalkResult w = walk1(va);
  if (!w.ok()) return fault(false, fault_status_of(w));
  if (write && !w.attributes.privileged.write) return fault(false, fsc_permission(w.level));
  return through_stage2(w.output, {w.attributes.memory, w.attributes.shareability}, write);
}

// ... and from the layouts alone (no bits involved): the third opinion.
ExpectedPar layout_two_stages(uint64_t va, bool stage1_on, StageAttributes s1_off, bool write) {
  StageAttributes s1 = s1_off;
  uint64_t ipa = va;
  if (stage1_on) {
    const LayoutAnswer a = lookup(g_tables->s1_regions, g_tables->s1_count, va);
    if (!a.mapped) return fault(false, 0);
    if (write && !a.access.write) return fault(false, 0);
    ipa = a.output;
    s1 = {a.memory, a.memory == MemoryKind::kNormalWriteBack ? arm64::kShareInner : arm64::kShareOuter};
  }
  const LayoutAnswer b = lookup(g_tables->s2_regions, g_tables->s2_count, ipa);
  if (!b.mapped || !(write ? b.access.write : b.access.read)) return fault(true, 0);
  return {false, false, 0, b.output,
          combine(s1, {b.memory, b.memory == MemoryKind::kNormalWriteBack ? arm64::kShareInner : arm64::kShareOuter})};
}

// Compares a PAR with the walk-based expectation (fully) and the layout one (fault, stage, PA, attr).
void tally(const ExpectedPar& e) {
  if (!e.fault)
    ++g_outcomes.translated;
  else if (!e.stage2)
    ++g_outcomes.stage1_faults;
  else if ((e.fst & 0x3c) == fsc_permission(0))
    ++g_outcomes.stage2_permission;
  else
    ++g_outcomes.stage2_translation;
}

void judge(const char* op, uint64_t input, uint64_t par, const ExpectedPar& walked, const ExpectedPar& laid) {
  count_translations(kPart);
  tally(walked);
  const char* problem = nullptr;
  if (walked.fault != laid.fault || walked.stage2 != laid.stage2)
    problem = "layout and walkers disagree on the fault";
  else if (!walked.fault && (walked.pa != laid.pa || walked.attributes.attr != laid.attributes.attr))
    problem = "layout and walkers disagree on PA or attributes";
  else if (par_faulted(par) != walked.fault)
    problem = walked.fault ? "CPU translates, walkers fault" : "CPU faults, walkers translate";
  else if (walked.fault &&
           (((par & kParS) != 0) != walked.stage2 || par_fst(par) != walked.fst || (par & kParPtw) != 0))
    problem = "fault stage or status differ";
  else if (!walked.fault && (par_pa(par) | (input & kPageMask)) != walked.pa)
    problem = "PA differs";
  else if (!walked.fault && (par_attr(par) != walked.attributes.attr || par_sh(par) != walked.attributes.sh))
    problem = "memory attributes or shareability differ";
  if (problem == nullptr) return;
  char cpu[64];
  mismatch(kPart, "%s 0x%010lx: %s; walkers: %s%s 0x%02x PA 0x%lx ATTR 0x%02x SH %u; layout: %s%s; CPU: %s", op, input,
           problem, walked.fault ? "fault" : "ok", walked.stage2 ? " (stage 2)" : "", walked.fst, walked.pa,
           walked.attributes.attr, walked.attributes.sh, laid.fault ? "fault" : "ok", laid.stage2 ? " (stage 2)" : "",
           describe_par(par, cpu, sizeof(cpu)));
}

// ---- Batches of AT operations for the agent -----------------------------------------------------------

struct JobSetup {
  uint64_t hcr;
  bool stage1_on;
  const char* name;
};

// Each input gets the same group of operations; results are judged a group at a time.
class Batch {
 public:
  Batch(const JobSetup& setup, const NsOp* ops, unsigned per_input) : setup_(setup), ops_(ops), per_input_(per_input) {}

  void add(uint64_t input) {
    if (count_ + per_input_ > NsEl2Job::kMaxOps) flush();
    NsEl2Job& job = ns_el2_job();
    inputs_[count_ / per_input_] = input;
    for (unsigned k = 0; k < per_input_; ++k) job.ops[count_++] = {ops_[k], input};
  }

  void flush() {
    if (count_ == 0) return;
    NsEl2Job& job = ns_el2_job();
    configure(job);
    // The agent runs with its MMU (and caches) off: make our cached writes visible to it, and
    // drop our cached copy of the results before reading them.
    dcache_clean_invalidate_range(reinterpret_cast<uint64_t>(&job), FW_NSJOB_OPS + 16 * uint64_t{count_});
    const uint64_t done = run_ns_el2_job();
    dcache_clean_invalidate_range(reinterpret_cast<uint64_t>(job.results), 8 * uint64_t{count_});
    if (done != count_) mismatch(kPart, "agent performed %lu of %u operations", done, count_);
    for (unsigned g = 0; g < count_ / per_input_; ++g) judge_group(inputs_[g], &job.results[g * per_input_]);
    ++jobs_;
    count_ = 0;
  }

  unsigned jobs() const { return jobs_; }

 private:
  void configure(NsEl2Job& job) const {
    job.hcr_el2 = setup_.hcr;
    job.vtcr_el2 = arm64::vtcr_el2_value(kIpaBits, kVtcrPaBits);
    job.vttbr_el2 = g_tables->stage2.raw().root().value;  // VMID 0
    job.sctlr_el1 = kSctlrEl1Reset | (setup_.stage1_on ? (kSctlrM | kSctlrC | kSctlrI) : 0);
    job.tcr_el1 = arm64::tcr_el1_value(kVaBits, kIpaBits);
    job.ttbr0_el1 = g_tables->stage1.raw().root().value;  // an IPA (identity through stage 2)
    job.mair_el1 = arm64::kMairValue;
    job.count = count_;
    job.done = 0;
  }

  void judge_group(uint64_t input, const uint64_t* results) const {
    // Stage 1 off: with HCR_EL2.DC it is Normal WB non-shareable, without it Device-nGnRnE.
    const StageAttributes s1_off = (setup_.hcr & kHcrDc) != 0 ? StageAttributes{MemoryKind::kNormalWriteBack, 0}
                                                              : StageAttributes{MemoryKind::kDeviceStronglyOrdered, 2};
    for (unsigned k = 0; k < per_input_; ++k) {
      const NsOp op = ops_[k];
      if (op == NsOp::kAtS1E1R) {
        judge_stage1(input, results[k]);
        continue;
      }
      const bool write = op == NsOp::kAtS12E1W;
      const ExpectedPar walked = setup_.stage1_on ? two_stages(input, write) : through_stage2(input, s1_off, write);
      judge(write ? "S12E1W" : "S12E1R", input, results[k], walked,
            layout_two_stages(input, setup_.stage1_on, s1_off, write));
    }
  }

  // AT S1E1R: stage 1 alone (the result is an IPA).
  static void judge_stage1(uint64_t va, uint64_t par) {
    const WalkResult w = walk1(va);
    const LayoutAnswer a = lookup(g_tables->s1_regions, g_tables->s1_count, va);
    ExpectedPar walked = w.ok() ? ExpectedPar{false,
                                              false,
                                              0,
                                              w.output,
                                              {mair_byte(w.attributes.memory),
                                               reported_shareability(w.attributes.memory, w.attributes.shareability)}}
                                : fault(false, fault_status_of(w));
    ExpectedPar laid = a.mapped ? ExpectedPar{false, false, 0, a.output, {mair_byte(a.memory), 0}} : fault(false, 0);
    judge("S1E1R", va, par, walked, laid);
  }

  JobSetup setup_;
  const NsOp* ops_;
  unsigned per_input_;
  unsigned count_ = 0;
  unsigned jobs_ = 0;
  uint64_t inputs_[NsEl2Job::kMaxOps];
};

// ---- Inputs ----------------------------------------------------------------------------------------

// Every page of each region (every kLargeRegionStride-th page of large ones), plus its neighbours.
void region_inputs(Batch& batch, const LayoutRegion* regions, unsigned count, Rng& rng) {
  for (unsigned i = 0; i < count; ++i) {
    const LayoutRegion& r = regions[i];
    const uint64_t pages = r.size / kPageSize;
    const uint64_t stride = pages > 1024 ? kLargeRegionStride : 1;
    for (uint64_t p = 0; p < pages; p += stride) batch.add(r.input + p * kPageSize + rng.below(kPageSize / 8) * 8);
    batch.add(r.input + r.size - 8);
    batch.add(r.input - 8);
    batch.add(r.input + r.size);
  }
}

// How many inputs region_inputs adds for `regions` (the part's minimum is built from it).
uint64_t region_input_count(const LayoutRegion* regions, unsigned count) {
  uint64_t n = 0;
  for (unsigned i = 0; i < count; ++i) {
    const uint64_t pages = regions[i].size / kPageSize;
    const uint64_t stride = pages > 1024 ? kLargeRegionStride : 1;
    n += (pages + stride - 1) / stride + 3;
  }
  return n;
}

void stage2_only(const JobSetup& setup, Rng& rng, bool full) {
  static constexpr NsOp kOps[] = {NsOp::kAtS12E1R, NsOp::kAtS12E1W};
  Batch batch(setup, kOps, 2);
  if (full) {
    region_inputs(batch, g_tables->s2_regions, g_tables->s2_count, rng);
    for (unsigned i = 0; i < kRandomIpas; ++i) batch.add(rng.below((uint64_t{1} << kIpaBits) / 8) * 8);
    for (unsigned i = 0; i < kRandomIpas / 2; ++i) batch.add(rng.below((uint64_t{1} << 32) / 8) * 8);
  } else {
    for (unsigned i = 0; i < g_tables->s2_count; ++i) batch.add(g_tables->s2_regions[i].input);
  }
  batch.flush();
  printf("  stage2: %s: %u agent job(s), %lu mismatches so far\n", setup.name, batch.jobs(), mismatches(kPart));
}

void both_stages(Rng& rng) {
  static constexpr NsOp kOps[] = {NsOp::kAtS1E1R, NsOp::kAtS12E1R, NsOp::kAtS12E1W};
  const JobSetup setup{kHcrRw | kHcrVm, true, "stage 1 on, S1E1R + S12E1R/W on VAs"};
  Batch batch(setup, kOps, 3);
  region_inputs(batch, g_tables->s1_regions, g_tables->s1_count, rng);
  for (unsigned i = 0; i < kRandomVas; ++i) batch.add(rng.below((uint64_t{1} << kVaBits) / 8) * 8);
  for (unsigned i = 0; i < kRandomVas / 2; ++i) batch.add(0x10000000 + rng.below(0x10000000 / 8) * 8);
  batch.flush();
  printf("  stage2: %s: %u agent job(s), %lu mismatches so far\n", setup.name, batch.jobs(), mismatches(kPart));
}

// Informational: the same stage 2 with VTCR_EL2.PS = 40 bits, as vtcr_el2_value(40, 40) gives it.
void probe_level0_start() {
  NsEl2Job& job = ns_el2_job();
  job.hcr_el2 = kHcrRw | kHcrVm | kHcrDc;
  job.vtcr_el2 = arm64::vtcr_el2_value(kIpaBits, kPaBits);
  job.vttbr_el2 = g_tables->stage2.raw().root().value;
  job.sctlr_el1 = kSctlrEl1Reset;
  job.ops[0] = {NsOp::kAtS12E1R, g_tables->s2_regions[0].input};
  job.count = 1;
  dcache_clean_invalidate_range(reinterpret_cast<uint64_t>(&job), FW_NSJOB_OPS + 16);
  run_ns_el2_job();
  dcache_clean_invalidate_range(reinterpret_cast<uint64_t>(job.results), 8);
  char par[64];
  printf("  stage2: [info] VTCR_EL2 0x%lx (%u-bit IPA, PS %u bits, walk from level 0): %s\n", job.vtcr_el2, kIpaBits,
         kPaBits, describe_par(job.results[0], par, sizeof(par)));
}

}  // namespace

void run_stage2_checks(uint64_t seed) {
  Rng rng(seed);
  g_tables = &build_guest_tables(seed);
  // The agent reads the tables with its MMU off: write them back to memory first.
  dcache_clean_invalidate_range(ns_scratch().base, g_tables->pool->used() * kPageSize);
  probe_level0_start();
  // Minimum: every input the three jobs submit, judged: S12E1R/W on every (sampled) page of every
  // stage-2 region plus its edges and 2250 random IPAs, S12E1R/W on each stage-2 region's start
  // without DC, and S1E1R + S12E1R/W on every page of every stage-1 region plus edges and 2250
  // random VAs. The agent makes AT operations only: no accesses.
  require_minimum(kPart,
                  2 * (region_input_count(g_tables->s2_regions, g_tables->s2_count) + kRandomIpas + kRandomIpas / 2) +
                      2 * uint64_t{g_tables->s2_count} +
                      3 * (region_input_count(g_tables->s1_regions, g_tables->s1_count) + kRandomVas + kRandomVas / 2),
                  0, "AT per input of every job: stage-2 regions page by page + edges + random IPAs, stage-1 likewise");
  stage2_only({kHcrRw | kHcrVm | kHcrDc, false, "stage 1 off (HCR.DC), S12E1R/W on IPAs"}, rng, true);
  stage2_only({kHcrRw | kHcrVm, false, "stage 1 off (Device-nGnRnE), S12E1R/W"}, rng, false);
  both_stages(rng);
  printf(
      "  stage2: outcomes: %lu translated, %lu stage-1 faults, %lu stage-2 translation faults, %lu stage-2 "
      "permission faults; %lu mismatches\n",
      g_outcomes.translated, g_outcomes.stage1_faults, g_outcomes.stage2_translation, g_outcomes.stage2_permission,
      mismatches(kPart));
}

}  // namespace teemm::fw::conf
