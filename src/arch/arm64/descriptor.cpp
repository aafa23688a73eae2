// Encoding of mapping attributes into descriptor attribute bits (see descriptor.hpp).
#include "arch/arm64/descriptor.hpp"

namespace teemm::arm64 {
namespace {

struct MemoryEncoding {
  unsigned mair_index;
  uint64_t stage2_memattr;
  uint64_t shareability;
};

constexpr MemoryEncoding memory_encoding(MemoryKind kind) {
  switch (kind) {
    case MemoryKind::kDevice: return {kMairIndexDevice, kS2MemAttrDevice_nGnRE, kShareOuter};
    case MemoryKind::kNormalNonCacheable:
      return {kMairIndexNormalNonCacheable, kS2MemAttrNormalNonCacheable, kShareOuter};
    case MemoryKind::kDeviceStronglyOrdered:
      return {kMairIndexDeviceStronglyOrdered, kS2MemAttrDevice_nGnRnE, kShareOuter};
    case MemoryKind::kNormalWriteBack: break;
  }
  return {kMairIndexNormalWriteBack, kS2MemAttrNormalWriteBack, kShareInner};
}

uint64_t encode_stage1(const MappingAttributes& a, const MemoryEncoding& memory) {
  uint64_t bits = kAF | (uint64_t{memory.mair_index} << kAttrIndxShift) | (memory.shareability << kSHShift);
  if (a.non_secure) bits |= kNS;
  if (!a.global) bits |= kNG;
  if (a.unprivileged.read) bits |= kAP1;
  if (!a.privileged.write) bits |= kAP2;
#if defined(TEEMM_TEST_BROKEN_DESCRIPTOR)
  // Test-only sabotage (never defined in a real build): read-only data loses AP[2] and becomes
  // writable, so that the QEMU conformance run (tests/qemu) can prove it notices a wrong descriptor.
  if (!a.privileged.write && !a.privileged.execute) bits &= ~kAP2;
#endif
  if (!a.privileged.execute) bits |= kPXN;
    // EL0 may fetch from any page whose UXN is 0, whatever AP[1] says (AP[2:1] = 00 with UXN = 0 is
    // the execute-only encoding for EL0), so UXN must be set wherever EL0 may not execute.
#if defined(TEEMM_TEST_OLD_UXN_RULE)
  // Test-only sabotage (never defined in a real build): the old rule, UXN only when no level may
  // execute, which lets secure EL0 run the core's code. The QEMU conformance run must catch it.
  if (!a.privileged.execute && !a.unprivileged.execute) bits |= kUXN;
#else
  if (!a.unprivileged.execute) bits |= kUXN;
#endif
  // A page EL0 can write is never privileged-executable (implicit in v8.0 too; made explicit).
  if (a.unprivileged.write) bits |= kPXN;
  return bits;
}

// EL2 (without VHE) and EL3: one privilege level, one VA range.
uint64_t encode_single_privilege(const MappingAttributes& a, const MemoryEncoding& memory) {
  uint64_t bits = kAF | kAP1 | (uint64_t{memory.mair_index} << kAttrIndxShift) | (memory.shareability << kSHShift);
  if (a.non_secure) bits |= kNS;
  if (!a.privileged.write) bits |= kAP2;
#if defined(TEEMM_TEST_BROKEN_DESCRIPTOR)
  if (!a.privileged.write && !a.privileged.execute) bits &= ~kAP2;  // the same sabotage as above
#endif
  if (!a.privileged.execute) bits |= kUXN;  // XN in this regime
  return bits;
}

uint64_t encode_stage2(const MappingAttributes& a, const MemoryEncoding& memory) {
  // Stage 2 has a single privilege: what any stage-1 regime may do with the page.
  const bool read = a.privileged.read || a.unprivileged.read;
  const bool write = a.privileged.write || a.unprivileged.write;
  const bool execute = a.privileged.execute || a.unprivileged.execute;
  uint64_t bits = kAF | (memory.stage2_memattr << kMemAttrShift) | (memory.shareability << kSHShift);
  if (read) bits |= kS2APRead;
  if (write) bits |= kS2APWrite;
  if (!execute) bits |= kS2XN;
  return bits;
}

}  // namespace

uint64_t encode_leaf_attributes(Stage stage, MappingAttributes attributes, TranslationRegime regime) {
  if (stage == Stage::kStage1 && regime == TranslationRegime::kEl2OrEl3) {
    attributes.unprivileged = {};
    attributes.global = true;
  }
  const MappingAttributes a = normalize(attributes);
  if (!a.privileged.read && !a.unprivileged.read) return 0;
  const MemoryEncoding memory = memory_encoding(a.memory);
  if (stage == Stage::kStage2) return encode_stage2(a, memory);
  return regime == TranslationRegime::kEl1And0 ? encode_stage1(a, memory) : encode_single_privilege(a, memory);
}

}  // namespace teemm::arm64
