// Mapping and unmapping over VMSAv8-64 tables (see translation_table.hpp).
//
// Each public call runs twice over the range: a prepare pass that only reads (conflicts, mapped-ness,
// how many table pages the call needs) and a commit pass that cannot fail, because everything it
// needs was checked and counted first. Two common shapes take one-pass loops inside that scheme: a
// range inside one existing level-3 table (a small buffer) is checked and written there without
// walking each level twice, and a run of whole blocks is checked and cleared with no per-entry
// decisions (a whole table's worth then unlinks its table, released after the invalidation).
#include "arch/arm64/translation_table.hpp"

#include <type_traits>

#include "arch/arm64/barrier.hpp"

namespace teemm::arm64 {
namespace {

// One entry's slice of a range at some level.
struct Piece {
  uint64_t start;       // first input address of the slice
  uint64_t end;         // one past the last
  uint64_t entry_base;  // input address the whole entry starts at
  unsigned index;       // entry index in its table
  bool whole;           // the slice covers the whole entry
};

// Calls visit(piece) for every entry of a level-`level` table that [start, end) touches; stops and
// returns the first error a visit reports.
template <typename Visit>
Status for_each_piece(unsigned level, uint64_t start, uint64_t end, Visit&& visit) {
  const uint64_t entry_size = level_block_size(level);
  for (uint64_t address = start; address < end;) {
    const uint64_t entry_base = address & ~(entry_size - 1);
    const uint64_t entry_end = entry_base + entry_size;
    const uint64_t piece_end = end < entry_end ? end : entry_end;
    const Piece piece{address, piece_end, entry_base, level_index(address, level),
                      address == entry_base && piece_end == entry_end};
    if (Status status = visit(piece); !status) return status;
    address = piece_end;
  }
  return Status();
}

struct ContiguousOutput {
  uint64_t input_start;
  uint64_t output_start;
  uint64_t at(uint64_t input) const { return output_start + (input - input_start); }
  bool can_use_block(uint64_t input, uint64_t block_size) const { return (at(input) & (block_size - 1)) == 0; }
};

struct PageListOutput {
  uint64_t input_start;
  const PhysAddr* pages;
  const PhysAddr* from(uint64_t input) const { return pages + ((input - input_start) >> kPageShift); }
  uint64_t at(uint64_t input) const { return from(input)->value; }
  bool can_use_block(uint64_t input, uint64_t block_size) const {
    const uint64_t first = at(input);
    if ((first & (block_size - 1)) != 0) return false;
    const PhysAddr* run = from(input);
    for (uint64_t i = 1, n = block_size >> kPageShift; i < n; ++i)
      if (run[i].value != first + (i << kPageShift)) return false;
    return true;
  }
};

// Table pages a split of a leaf at `level` needs so that [start, end) (inside it) can be removed.
uint64_t tables_to_split(unsigned level, uint64_t start, uint64_t end) {
  uint64_t tables = 1;
  const unsigned child = level + 1;
  if (child == kLastLevel) return tables;
  (void)for_each_piece(child, start, end, [&](const Piece& piece) {
    if (!piece.whole) tables += tables_to_split(child, piece.start, piece.end);
    return Status();
  });
  return tables;
}

// Entries [first, first + count) of a table, for the tight loops below.
struct EntrySpan {
  unsigned first;
  unsigned count;
};
EntrySpan span_at(unsigned level, uint64_t start, uint64_t end) {
  return {level_index(start, level), static_cast<unsigned>((end - start) >> level_shift(level))};
}

// True when [start, end) covers whole entries of a level-1 or level-2 table and every one of them
// is a block: such a run is checked and cleared in one pass, with no per-entry decisions.
bool whole_blocks(unsigned level, const uint64_t* entries, uint64_t start, uint64_t end) {
  const uint64_t entry_mask = level_block_size(level) - 1;
  if (((start | end) & entry_mask) != 0) return false;
  const EntrySpan span = span_at(level, start, end);
  const uint64_t* e = entries + span.first;
  uint64_t not_block = 0;
  for (size_t i = 0; i < span.count; ++i) not_block |= (e[i] & kDescriptorTypeMask) ^ kDescriptorBlock;
  return not_block == 0;
}

// True when any of the entries is valid (a map may only write over invalid ones).
bool any_valid(const uint64_t* entries, EntrySpan span) {
  const uint64_t* e = entries + span.first;
  uint64_t valid = 0;
  for (size_t i = 0; i < span.count; ++i) valid |= e[i];
  return (valid & kDescriptorValid) != 0;
}

// True when all of the entries are valid (an unmap must find everything mapped).
bool all_valid(const uint64_t* entries, EntrySpan span) {
  const uint64_t* e = entries + span.first;
  uint64_t valid = kDescriptorValid;
  for (size_t i = 0; i < span.count; ++i) valid &= e[i];
  return valid != 0;
}

}  // namespace

// The operations on one regime's tables; a friend of TranslationTable so the public class stays small.
class TableEditor {
 public:
  explicit TableEditor(TranslationTable& table) : table_(table), pool_(*table.pool_) {}

  // Both passes of a map. A range inside one existing level-3 table (a few pages: the usual
  // shared buffer) is checked and written there directly, without walking each level twice. A
  // whole 2 MiB could be a block: the general path decides that.
  template <typename Output>
  Status map(uint64_t start, uint64_t end, const Output& output, uint64_t attribute_bits, bool allow_blocks) {
    if (PhysAddr table; end - start < level_block_size(2) && last_level_table(start, end, table)) {
      uint64_t* entries = pool_.entries(table);
      if (any_valid(entries, span_at(kLastLevel, start, end))) return Error::kAlreadyMapped;
      fill_pages(entries, pool_.live_entries(table), start, end, output, attribute_bits);
      return Status();
    }
    const unsigned level = table_.start_level();
    uint64_t tables_needed = 0;
    if (Status s = prepare_map(level, pool_.entries(table_.root_), start, end, output, allow_blocks, tables_needed); !s)
      return s;
    if (tables_needed > pool_.available()) return Error::kOutOfMemory;
    commit_map(level, table_.root_, start, end, output, attribute_bits, allow_blocks);
    return Status();
  }

  // Both passes of an unmap. A range inside one level-3 table that keeps other live entries frees
  // no table, so it is checked and cleared there directly. `hint` (the batch's): the level-3 table
  // of the 2 MiB region the last unmap found, still linked unless the general path ran since.
  struct LastTable {
    uint64_t& region;
    PhysAddr& table;
  };
  Status unmap(uint64_t start, uint64_t end, bool holes_allowed, unsigned& finest_level, bool& tables_freed,
               const LastTable& hint) {
    const uint64_t region = start >> level_shift(2);
    PhysAddr table;
    const bool known = hint.region == region && ((end - 1) >> level_shift(2)) == region;
    if (known) table = hint.table;
    if ((known || last_level_table(start, end, table)) && pool_.live_entries(table) > (end - start) >> kPageShift) {
      uint64_t* entries = pool_.entries(table);
      if (!holes_allowed && !all_valid(entries, span_at(kLastLevel, start, end))) return Error::kNotMapped;
      clear_pages(entries, pool_.live_entries(table), start, end, finest_level);
      hint.region = region;
      hint.table = table;
      return Status();
    }
    hint.region = ~uint64_t{0};  // the general path may unlink tables
    const unsigned level = table_.start_level();
    uint64_t tables_needed = 0;
    if (Status s = prepare_unmap(level, pool_.entries(table_.root_), start, end, tables_needed, holes_allowed); !s)
      return s;
    if (tables_needed > pool_.available()) return Error::kOutOfMemory;
    commit_unmap(level, table_.root_, start, end, finest_level, tables_freed);
    return Status();
  }

  template <typename Output>
  Status prepare_map(unsigned level, const uint64_t* entries, uint64_t start, uint64_t end, const Output& output,
                     bool allow_blocks, uint64_t& tables_needed) const {
    return for_each_piece(level, start, end, [&](const Piece& piece) -> Status {
      const uint64_t d = entries != nullptr ? entries[piece.index] : 0;
      if (uses_leaf(level, piece, output, allow_blocks))
        return descriptor_is_valid(d) ? Error::kAlreadyMapped : Status();
      if (!descriptor_is_valid(d)) {
        ++tables_needed;
        if (level + 1 == kLastLevel) return Status();  // a fresh level-3 table needs nothing more
        return prepare_map(level + 1, nullptr, piece.start, piece.end, output, allow_blocks, tables_needed);
      }
      if (!descriptor_is_table(d, level)) return Error::kAlreadyMapped;  // a block already covers it
      return prepare_map(level + 1, pool_.entries(descriptor_next_table(d)), piece.start, piece.end, output,
                         allow_blocks, tables_needed);
    });
  }

  template <typename Output>
  void commit_map(unsigned level, PhysAddr table, uint64_t start, uint64_t end, const Output& output,
                  uint64_t attribute_bits, bool allow_blocks) {
    uint64_t* entries = pool_.entries(table);
    uint16_t& live = pool_.live_entries(table);
    if (level == kLastLevel) return fill_pages(entries, live, start, end, output, attribute_bits);
    (void)for_each_piece(level, start, end, [&](const Piece& piece) {
      uint64_t& d = entries[piece.index];
      if (uses_leaf(level, piece, output, allow_blocks)) {
        d = make_leaf(attribute_bits, output.at(piece.start), level);
        ++live;
        ++table_.statistics_.leaves[level];
      } else if (descriptor_is_valid(d)) {
        commit_map(level + 1, descriptor_next_table(d), piece.start, piece.end, output, attribute_bits, allow_blocks);
      } else {
        const PhysAddr child = new_table(level + 1);
        commit_map(level + 1, child, piece.start, piece.end, output, attribute_bits, allow_blocks);
        table_write_barrier();  // the child's entries before the descriptor that publishes them
        d = make_table_descriptor(child);
        ++live;
        ++table_.statistics_.table_descriptors[level];
      }
      return Status();
    });
  }

  // `holes_allowed`: invalid entries in the range are skipped (unmap_present) instead of refused.
  Status prepare_unmap(unsigned level, const uint64_t* entries, uint64_t start, uint64_t end, uint64_t& tables_needed,
                       bool holes_allowed) const {
    if (level == kLastLevel) {  // the common case, kept to one tight loop
      if (holes_allowed) return Status();
      return all_valid(entries, span_at(kLastLevel, start, end)) ? Status() : Status(Error::kNotMapped);
    }
    if (whole_blocks(level, entries, start, end)) return Status();  // one pass, nothing to split
    return for_each_piece(level, start, end, [&](const Piece& piece) -> Status {
      const uint64_t d = entries[piece.index];
      if (!descriptor_is_valid(d)) return holes_allowed ? Status() : Status(Error::kNotMapped);
      if (descriptor_is_table(d, level))
        return prepare_unmap(level + 1, pool_.entries(descriptor_next_table(d)), piece.start, piece.end, tables_needed,
                             holes_allowed);
      if (!piece.whole) tables_needed += tables_to_split(level, piece.start, piece.end);
      return Status();
    });
  }

  // Returns the finest level whose leaves were removed; sets `tables_freed` when a table went.
  void commit_unmap(unsigned level, PhysAddr table, uint64_t start, uint64_t end, unsigned& finest_level,
                    bool& tables_freed) {
    uint64_t* entries = pool_.entries(table);
    uint16_t& live = pool_.live_entries(table);
    if (level == kLastLevel) return clear_pages(entries, live, start, end, finest_level);
    if (whole_blocks(level, entries, start, end)) return clear_blocks(entries, live, level, start, end, finest_level);
    (void)for_each_piece(level, start, end, [&](const Piece& piece) {
      uint64_t& d = entries[piece.index];
      if (!descriptor_is_valid(d)) return Status();  // a hole (unmap_present only: unmap refused them)
      if (!descriptor_is_table(d, level) && piece.whole) {
        d = 0;
        --live;
        --table_.statistics_.leaves[level];
        if (level > finest_level || finest_level > kLastLevel) finest_level = level;
        return Status();
      }
      if (!descriptor_is_table(d, level)) split_block(d, level, piece.entry_base);
      const PhysAddr child = descriptor_next_table(d);
      commit_unmap(level + 1, child, piece.start, piece.end, finest_level, tables_freed);
      if (pool_.live_entries(child) == 0) {
        d = 0;
        --live;
        --table_.statistics_.table_descriptors[level];
        release_table(child, level + 1);
        tables_freed = true;
      }
      return Status();
    });
  }

  void destroy(unsigned level, PhysAddr table) {
    uint64_t* entries = pool_.entries(table);
    if (level < kLastLevel) {
      for (unsigned i = 0; i < kEntriesPerTable; ++i)
        if (descriptor_is_table(entries[i], level)) destroy(level + 1, descriptor_next_table(entries[i]));
    }
    pool_.release(table);
  }

  PhysAddr new_table(unsigned level) {
    const Result<PhysAddr> page = pool_.allocate();  // cannot fail: prepare counted the pages
    ++table_.statistics_.table_pages;
    ++table_.statistics_.tables[level];
    return page.value();
  }

 private:
  void clear_pages(uint64_t* entries, uint16_t& live, uint64_t start, uint64_t end, unsigned& finest_level) {
    const EntrySpan span = span_at(kLastLevel, start, end);
    uint64_t* e = entries + span.first;
    unsigned cleared = 0;  // all of them after unmap's prepare; fewer for unmap_present
    for (size_t i = 0; i < span.count; ++i) {
      cleared += static_cast<unsigned>(e[i] & kDescriptorValid);
      e[i] = 0;
    }
    live = static_cast<uint16_t>(live - cleared);
    table_.statistics_.leaves[kLastLevel] -= cleared;
    if (cleared != 0) finest_level = kLastLevel;
  }

  // A run of whole blocks (whole_blocks said so): one pass, one count update. The caller's parent
  // releases this table once its last entry went, through the deferred path.
  void clear_blocks(uint64_t* entries, uint16_t& live, unsigned level, uint64_t start, uint64_t end,
                    unsigned& finest_level) {
    const EntrySpan span = span_at(level, start, end);
    uint64_t* e = entries + span.first;
    for (size_t i = 0; i < span.count; ++i) e[i] = 0;
    live = static_cast<uint16_t>(live - span.count);
    table_.statistics_.leaves[level] -= span.count;
    if (level > finest_level || finest_level > kLastLevel) finest_level = level;
  }

  template <typename Output>
  static bool uses_leaf(unsigned level, const Piece& piece, const Output& output, bool allow_blocks) {
    if (level == kLastLevel) return true;
    return allow_blocks && piece.whole && level_allows_block(level) &&
           output.can_use_block(piece.start, level_block_size(level));
  }

  template <typename Output>
  void fill_pages(uint64_t* entries, uint16_t& live, uint64_t start, uint64_t end, const Output& output,
                  uint64_t attribute_bits) {
    const EntrySpan span = span_at(kLastLevel, start, end);
    uint64_t* e = entries + span.first;
    const uint64_t page_bits = attribute_bits | kDescriptorPage;
    if constexpr (std::is_same_v<Output, ContiguousOutput>) {
      uint64_t address = output.at(start);
      for (size_t i = 0; i < span.count; ++i, address += kPageSize) e[i] = page_bits | address;
    } else {
      const PhysAddr* pages = output.from(start);
      for (size_t i = 0; i < span.count; ++i) e[i] = page_bits | pages[i].value;
    }
    live = static_cast<uint16_t>(live + span.count);
    table_.statistics_.leaves[kLastLevel] += span.count;
  }

  // Replaces the block `d` at `level` by a table of next-level leaves describing the same memory,
  // with break-before-make: the block is invalidated and its TLB entries removed before the table
  // goes in, as the architecture requires for a change of block size.
  void split_block(uint64_t& d, unsigned level, uint64_t entry_base) {
    const unsigned child_level = level + 1;
    const PhysAddr child = new_table(child_level);
    uint64_t* entries = pool_.entries(child);
    const uint64_t attribute_bits = descriptor_attribute_bits(d);
    const uint64_t output = descriptor_output(d, level);
    const uint64_t step = level_block_size(child_level);
    for (unsigned i = 0; i < kEntriesPerTable; ++i)
      entries[i] = make_leaf(attribute_bits, output + i * step, child_level);
    pool_.live_entries(child) = kEntriesPerTable;
    table_.statistics_.leaves[child_level] += kEntriesPerTable;
    --table_.statistics_.leaves[level];
    ++table_.statistics_.table_descriptors[level];
    d = 0;
    if (table_.tlb_ != nullptr)
      table_.tlb_->invalidate(table_.stage_, entry_base, level_block_size(level), level_block_size(level), true);
    table_write_barrier();
    d = make_table_descriptor(child);
  }

  // The level-3 table holding all of [start, end), when the range lies inside one level-2 entry
  // and the walk down to it meets only table descriptors.
  bool last_level_table(uint64_t start, uint64_t end, PhysAddr& table) const {
    if (((start ^ (end - 1)) >> level_shift(2)) != 0) return false;
    PhysAddr at = table_.root_;
    for (unsigned level = table_.start_level(); level < kLastLevel; ++level) {
      const uint64_t d = pool_.entries(at)[level_index(start, level)];
      if (!descriptor_is_table(d, level)) return false;
      at = descriptor_next_table(d);
    }
    table = at;
    return true;
  }

  void release_table(PhysAddr table, unsigned level) {
#if defined(TEEMM_TEST_EARLY_TABLE_RELEASE)
    // Test-only sabotage (never defined in a real build): the page is reusable at once, before the
    // TLB invalidation that covers it (the host test of the ordering must fail).
    pool_.release(table);
#else
    // Unlinked, but a walk cache may still point here until unmap's invalidation completes.
    pool_.release_after_invalidation(table);
#endif
    --table_.statistics_.table_pages;
    --table_.statistics_.tables[level];
  }

  TranslationTable& table_;
  TablePool& pool_;
};

Result<TranslationTable> TranslationTable::create(TablePool& pool, Stage stage, unsigned input_bits,
                                                  unsigned output_bits) {
  if (input_bits < 25 || input_bits > kMaxAddressBits) return Error::kInvalidArgument;
  if (output_bits < 32 || output_bits > kMaxAddressBits) return Error::kInvalidArgument;
  // Every table page must be reachable by the walker: above the output size it is an address-size fault.
  if (!range_fits(pool.base().value, uint64_t{pool.capacity()} << kPageShift, uint64_t{1} << output_bits))
    return Error::kAddressOverflow;
  const Result<PhysAddr> root = pool.allocate();
  if (!root) return root.error();
  TranslationTable table;
  table.pool_ = &pool;
  table.root_ = root.value();
  table.stage_ = stage;
  table.input_bits_ = input_bits;
  table.output_bits_ = output_bits;
  table.statistics_.table_pages = 1;
  table.statistics_.tables[start_level_for(input_bits)] = 1;
  return table;
}

namespace {
// Every page aligned and below the output size. The limit is a power of two, so one OR over the
// list (a loop the compiler vectorises) clears a good list; only a bad one is searched for the
// first page at fault.
Status check_pages(const PhysAddr* pages, uint64_t count, uint64_t output_limit) {
  uint64_t all = 0;
  for (uint64_t i = 0; i < count; ++i) all |= pages[i].value;
  if ((all & kPageMask) == 0 && all < output_limit) return Status();
  for (uint64_t i = 0; i < count; ++i) {
    if (!pages[i].is_page_aligned()) return Error::kMisaligned;
    if (pages[i].value >= output_limit) return Error::kAddressOverflow;
  }
  return Status();
}

// The checks every call makes of its input range (size already known to be non-zero).
Status check_input_range(uint64_t input, uint64_t size, uint64_t limit) {
  if (((input | size) & kPageMask) != 0) return Error::kMisaligned;
  return range_fits(input, size, limit) ? Status() : Status(Error::kAddressOverflow);
}
}  // namespace

template <typename Output>
Status TranslationTable::map_with(uint64_t input, uint64_t size, const Output& output, uint64_t attribute_bits,
                                  MapOptions options) {
  if (attribute_bits == 0) return Error::kInvalidArgument;  // "no access" is not a mapping
  if (Status s = TableEditor(*this).map(input, input + size, output, attribute_bits, options.allow_blocks); !s)
    return s;
  // The new entries replaced invalid ones, which no TLB caches, so no invalidation is needed; but
  // they must reach the walker (DSB) and this CPU must not have looked the range up already in
  // instructions fetched before the writes (ISB), before the caller uses the mapping.
  table_publish_barrier();
  return Status();
}

Status TranslationTable::map(uint64_t input, uint64_t output, uint64_t size, uint64_t attribute_bits,
                             MapOptions options) {
  if (size == 0) return Error::kZeroSize;
  if (Status s = check_input_range(input, size, input_limit()); !s) return s;
  if ((output & kPageMask) != 0) return Error::kMisaligned;
  if (!range_fits(output, size, output_limit())) return Error::kAddressOverflow;
  return map_with(input, size, ContiguousOutput{input, output}, attribute_bits, options);
}

Status TranslationTable::map_pages(uint64_t input, const PhysAddr* pages, uint64_t count, uint64_t attribute_bits,
                                   MapOptions options) {
  if (count == 0) return Error::kZeroSize;
  if (pages == nullptr || count > (kAddressLimit >> kPageShift)) return Error::kInvalidArgument;
  const uint64_t size = count << kPageShift;
  if (Status s = check_input_range(input, size, input_limit()); !s) return s;
  if (Status s = check_pages(pages, count, output_limit()); !s) return s;
  return map_with(input, size, PageListOutput{input, pages}, attribute_bits, options);
}

Status TranslationTable::unmap(uint64_t input, uint64_t size) { return unmap_with(input, size, false); }

Status TranslationTable::unmap_present(uint64_t input, uint64_t size) { return unmap_with(input, size, true); }

// One unmap is a batch of one: the same checks, one invalidation for its range, then the pages
// it unlinked go back.
Status TranslationTable::unmap_with(uint64_t input, uint64_t size, bool holes_allowed) {
  UnmapBatch batch(*this);
  const Status s = holes_allowed ? batch.unmap_present(input, size) : batch.unmap(input, size);
  batch.finish();
  return s;
}

Status TranslationTable::UnmapBatch::add(uint64_t input, uint64_t size, bool holes_allowed) {
  if (size == 0) return Error::kZeroSize;
  if (Status s = check_input_range(input, size, table_.input_limit()); !s) return s;
  unsigned finest_level = kLastLevel + 1;
  bool tables_freed = false;
  const TableEditor::LastTable hint{hint_region_, hint_table_};
  if (Status s = TableEditor(table_).unmap(input, input + size, holes_allowed, finest_level, tables_freed, hint); !s)
    return s;
  if (finest_level > kLastLevel) return Status();  // nothing was mapped: nothing to invalidate
  low_ = input < low_ ? input : low_;
  high_ = input + size > high_ ? input + size : high_;
  if (finest_level_ > kLastLevel || finest_level > finest_level_) finest_level_ = finest_level;
  tables_freed_ = tables_freed_ || tables_freed;
  return Status();
}

void TranslationTable::UnmapBatch::finish() {
  if (table_.tlb_ != nullptr && finest_level_ <= kLastLevel)
    table_.tlb_->invalidate(table_.stage_, low_, high_ - low_, level_block_size(finest_level_), !tables_freed_);
  // Only now, with no walk able to reach them, may the unlinked table pages be reused.
  table_.pool_->reclaim_pending();
  low_ = ~uint64_t{0};
  high_ = 0;
  finest_level_ = kLastLevel + 1;
  tables_freed_ = false;
  hint_region_ = ~uint64_t{0};  // a page reclaimed above may now be handed out for anything
}

void TranslationTable::destroy() {
  if (pool_ == nullptr) return;
  TableEditor(*this).destroy(start_level(), root_);
  statistics_ = TableStatistics();
  pool_ = nullptr;
}

}  // namespace teemm::arm64
