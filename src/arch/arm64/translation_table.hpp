// arch/arm64/translation_table: builds and edits one VMSAv8-64 translation regime (4 KiB granule).
//
// Owns the tables reachable from one root: mapping (blocks wherever input, output and size allow,
// pages elsewhere), unmapping (splitting blocks that are only partly removed, returning table pages
// whose entries are all invalid again to the pool), per-level statistics, and the calls to the
// TLB-maintenance hook. Stage 1 (VA → PA) and stage 2 (IPA → PA) use the same code path; only the
// attribute encoding and the typed front ends differ.
//
// Every call is prepare-then-commit: the range is first checked (conflicts, enough table pages)
// without writing, so a refused call changes nothing.
#pragma once

#include <cstdint>

#include "arch/arm64/descriptor.hpp"
#include "arch/arm64/table_pool.hpp"
#include "base/address.hpp"
#include "base/result.hpp"

namespace teemm::arm64 {

// Called after descriptors that may be cached in a TLB were changed (invalidated or replaced).
// One call per operation covers one contiguous input range: the implementation invalidates it as
// cheaply as its architecture allows (by-VA per `stride`, or all when the range is large).
class TlbMaintenance {
 public:
  // `leaf_only` is false when table descriptors were removed too (walk caches must go as well).
  virtual void invalidate(Stage stage, uint64_t input, uint64_t size, uint64_t stride, bool leaf_only) = 0;

 protected:
  ~TlbMaintenance() = default;
};

struct TableStatistics {
  uint64_t table_pages = 0;            // including the root
  uint64_t tables[4] = {};             // table pages whose entries are level-N descriptors
  uint64_t leaves[4] = {};             // blocks (levels 1-2) and pages (level 3) per level
  uint64_t table_descriptors[4] = {};  // table descriptors held at level N
};

struct MapOptions {
  bool allow_blocks = true;
};

class TranslationTable {
 public:
  TranslationTable() = default;

  // A new, empty regime whose root comes from `pool`. `input_bits` is the size of the input
  // address space (25..48); it fixes the start level. `output_bits` (32..48) is the output
  // address size the regime is programmed with (TCR_ELx.{I}PS, VTCR_EL2.PS): no output address,
  // and no table page of `pool`, may lie at or above 2^output_bits (kAddressOverflow), since the
  // CPU would raise an address-size fault there.
  static Result<TranslationTable> create(TablePool& pool, Stage stage, unsigned input_bits,
                                         unsigned output_bits = kMaxAddressBits);

  // Maps [input, input + size) to [output, output + size) with `attribute_bits` (from
  // encode_leaf_attributes). All three must be page aligned; the whole input range must be unmapped.
  Status map(uint64_t input, uint64_t output, uint64_t size, uint64_t attribute_bits, MapOptions options = {});
  // Maps `count` pages at `input` to the page addresses in `pages` (each page aligned); runs of
  // 512 contiguous, aligned pages at a 2 MiB-aligned input become level-2 blocks.
  Status map_pages(uint64_t input, const PhysAddr* pages, uint64_t count, uint64_t attribute_bits,
                   MapOptions options = {});
  // Removes the mapping of [input, input + size), which must be mapped in full. Blocks reaching
  // outside the range are split; emptied tables return to the pool, but only after the TLB
  // maintenance hook has been called for the range (a walk cache may point at them until then).
  Status unmap(uint64_t input, uint64_t size);
  // Removes whatever is mapped in [input, input + size), skipping holes: for teardown that must
  // make progress even when the range is no longer mapped in full. Blocks reaching outside the
  // range are split (kOutOfMemory when the pool cannot, and then nothing changed).
  Status unmap_present(uint64_t input, uint64_t size);

  // Many unmaps as one for the TLB. Each is checked and done at once, as unmap or unmap_present
  // would do it (a refused one changes nothing), but the TLB maintenance is one call over the
  // span of them all, and the table pages they emptied become reusable only after it, at finish()
  // (or destruction): a teardown of thousands of ranges costs one invalidation, not thousands.
  // For a caller that holds the tables' lock throughout, edits the tables only through the batch
  // meanwhile, and reuses none of the addresses before finish(). Unmaps inside the level-3 table
  // the previous one used find it without walking down again.
  class UnmapBatch {
   public:
    explicit UnmapBatch(TranslationTable& table) : table_(table) {}
    ~UnmapBatch() { finish(); }
    UnmapBatch(const UnmapBatch&) = delete;
    UnmapBatch& operator=(const UnmapBatch&) = delete;

    Status unmap(uint64_t input, uint64_t size) { return add(input, size, false); }
    Status unmap_present(uint64_t input, uint64_t size) { return add(input, size, true); }
    void finish();

   private:
    Status add(uint64_t input, uint64_t size, bool holes_allowed);

    TranslationTable& table_;
    uint64_t low_ = ~uint64_t{0};  // the span cleared so far
    uint64_t high_ = 0;
    unsigned finest_level_ = kLastLevel + 1;  // none yet
    bool tables_freed_ = false;
    uint64_t hint_region_ = ~uint64_t{0};  // the 2 MiB (level-2 entry) of the last level-3 table used
    PhysAddr hint_table_;
  };

  void set_tlb_maintenance(TlbMaintenance* tlb) { tlb_ = tlb; }

  PhysAddr root() const { return root_; }
  Stage stage() const { return stage_; }
  unsigned input_bits() const { return input_bits_; }
  unsigned output_bits() const { return output_bits_; }
  uint64_t output_limit() const { return uint64_t{1} << output_bits_; }
  unsigned start_level() const { return start_level_for(input_bits_); }
  uint64_t input_limit() const { return uint64_t{1} << input_bits_; }
  const TableStatistics& statistics() const { return statistics_; }
  TablePool& pool() const { return *pool_; }

  // Frees every table page of this regime (root included) back to the pool.
  void destroy();

 private:
  Status unmap_with(uint64_t input, uint64_t size, bool holes_allowed);
  template <typename Output>
  Status map_with(uint64_t input, uint64_t size, const Output& output, uint64_t attribute_bits, MapOptions options);

  TablePool* pool_ = nullptr;
  TlbMaintenance* tlb_ = nullptr;
  PhysAddr root_;
  Stage stage_ = Stage::kStage1;
  unsigned input_bits_ = 0;
  unsigned output_bits_ = kMaxAddressBits;
  TableStatistics statistics_;

  friend class TableEditor;
};

// Typed front end for a stage-1 regime: virtual addresses in, physical addresses out.
// The regime defaults to EL1&0, where an OP-TEE core runs (S-EL1).
class Stage1Table {
 public:
  static Result<Stage1Table> create(TablePool& pool, unsigned va_bits,
                                    TranslationRegime regime = TranslationRegime::kEl1And0,
                                    unsigned pa_bits = kMaxAddressBits) {
    Result<TranslationTable> table = TranslationTable::create(pool, Stage::kStage1, va_bits, pa_bits);
    if (!table) return table.error();
    Stage1Table result;
    result.table_ = table.value();
    result.regime_ = regime;
    return result;
  }
  Status map(VirtAddr va, PhysAddr pa, Size size, MappingAttributes attributes, MapOptions options = {}) {
    return table_.map(va.value, pa.value, size.bytes, encode(attributes), options);
  }
  Status map_pages(VirtAddr va, const PhysAddr* pages, PageCount count, MappingAttributes attributes) {
    return table_.map_pages(va.value, pages, count.pages, encode(attributes));
  }
  TranslationRegime regime() const { return regime_; }
  Status unmap(VirtAddr va, Size size) { return table_.unmap(va.value, size.bytes); }
  Status unmap_present(VirtAddr va, Size size) { return table_.unmap_present(va.value, size.bytes); }
  TranslationTable& raw() { return table_; }
  const TranslationTable& raw() const { return table_; }

 private:
  uint64_t encode(MappingAttributes attributes) const {
    return encode_leaf_attributes(Stage::kStage1, attributes, regime_);
  }
  TranslationTable table_;
  TranslationRegime regime_ = TranslationRegime::kEl1And0;
};

// Typed front end for a stage-2 regime: intermediate physical addresses in, physical out.
class Stage2Table {
 public:
  static Result<Stage2Table> create(TablePool& pool, unsigned ipa_bits, unsigned pa_bits = kMaxAddressBits) {
    Result<TranslationTable> table = TranslationTable::create(pool, Stage::kStage2, ipa_bits, pa_bits);
    if (!table) return table.error();
    Stage2Table result;
    result.table_ = table.value();
    return result;
  }
  Status map(IntermediatePhysAddr ipa, PhysAddr pa, Size size, MappingAttributes attributes, MapOptions options = {}) {
    return table_.map(ipa.value, pa.value, size.bytes, encode_leaf_attributes(Stage::kStage2, attributes), options);
  }
  Status map_pages(IntermediatePhysAddr ipa, const PhysAddr* pages, PageCount count, MappingAttributes attributes) {
    return table_.map_pages(ipa.value, pages, count.pages, encode_leaf_attributes(Stage::kStage2, attributes));
  }
  Status unmap(IntermediatePhysAddr ipa, Size size) { return table_.unmap(ipa.value, size.bytes); }
  TranslationTable& raw() { return table_; }
  const TranslationTable& raw() const { return table_; }

 private:
  TranslationTable table_;
};

}  // namespace teemm::arm64
