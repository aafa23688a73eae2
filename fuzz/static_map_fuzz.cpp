// Fuzz target: arbitrary region tables through registry → layout → tables, judged by a reference
// model (tests/support/static_map_model.hpp).
//
// Registration: every add / add_all is refused exactly when the model says (the error, the region
// refused and the one it conflicts with), and a refusal leaves the registry as it was; covers()
// answers as the model's union does. Layout: the map is the model's (types, PAs, VAs, sizes, merges,
// reservations placed first-fit, largest first) or the model's refusal with an empty map. Tables:
// the pool holds exactly the pages the model's greedy block decomposition needs (or the build is
// refused with only the root left), and the walker finds exactly the model's leaves, in order,
// each with its type's attributes: never anything for EL0 (UXN set on every leaf).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_input.hpp"

#include "arch/arm64/walker.hpp"
#include "mm/memory_map.hpp"
#include "support/static_map_model.hpp"

namespace {

using namespace teemm;

using fuzz::Reader;

constexpr size_t kMaxRegions = 32;
constexpr size_t kPoolPages = 256;

// Region names: distinct, so a refusal's names say exactly which regions it means.
const std::vector<std::string>& names() {
  static const std::vector<std::string> list = [] {
    std::vector<std::string> n;
    for (size_t i = 0; i < 3 * kMaxRegions; ++i) n.push_back("r" + std::to_string(i));
    return n;
  }();
  return list;
}

// Table pages for the whole process; each input gets a fresh pool over them (allocate() zeroes).
arm64::TablePage table_pages[kPoolPages];
uint16_t live_counts[kPoolPages];
constexpr uint64_t kPoolBase = 0x8000'0000;

// TEEMM_FUZZ_STATS=1 prints at exit how often each outcome was reached (fuzz/README.md).
struct Stats {
  uint64_t inputs = 0, added = 0, refused[16] = {}, layouts = 0, layout_refused[16] = {}, built = 0, out_of_tables = 0,
           leaves = 0, block_leaves = 0;
  ~Stats() {
    if (std::getenv("TEEMM_FUZZ_STATS") == nullptr || inputs == 0) return;
    std::fprintf(stderr, "static_map_fuzz: %llu inputs; %llu regions added, refused:", ull(inputs), ull(added));
    for (unsigned e = 1; e < 16; ++e)
      if (refused[e] != 0) std::fprintf(stderr, " %s %llu,", error_name(static_cast<Error>(e)), ull(refused[e]));
    std::fprintf(stderr, "\n  %llu layouts, refused:", ull(layouts));
    for (unsigned e = 1; e < 16; ++e)
      if (layout_refused[e] != 0)
        std::fprintf(stderr, " %s %llu,", error_name(static_cast<Error>(e)), ull(layout_refused[e]));
    std::fprintf(stderr, "\n  %llu tables built (%llu leaves, %llu of them blocks), %llu out of table pages\n",
                 ull(built), ull(leaves), ull(block_leaves), ull(out_of_tables));
  }
  static unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }
} stats;

bool same_region(const mm::Region& a, const mm::Region& b) {
  return a.name == b.name && a.kind == b.kind && a.type == b.type && a.base == b.base && a.size == b.size;
}

class Session {
 public:
  explicit Session(Reader& in) : in_(in) {}

  void run() {
    const uint8_t setup = in_.take<uint8_t>();
    // Bytes past the input's end read as zero: zero picks the roomy variant everywhere.
    const size_t capacity = (setup & 3) == 3 ? 1 + (setup >> 2) % 8 : kMaxRegions;
    mm::PhysMemRegistry registry(storage_, capacity);
    testing::RegistryModel model(capacity);
    register_regions(registry, model);

    const uint8_t layout = in_.take<uint8_t>();
    const size_t entry_capacity = (layout & 7) == 7 ? (layout >> 3) % 8 : kMaxRegions;
    mm::LayoutOptions options = layout_options();
    mm::MemoryMap map(entries_, entry_capacity);
    const testing::LayoutPrediction want = testing::predict_layout(model.regions(), options, entry_capacity);
    const mm::Refusal built = map.build(registry, options);
    check_layout(map, built, want);
    ++stats.layouts;
    ++stats.layout_refused[static_cast<unsigned>(built.error)];
    if (!built.ok()) return;

    const uint8_t pool_shape = in_.take<uint8_t>();
    const size_t pool_pages = (pool_shape & 3) == 3 ? 1 + (pool_shape >> 2) % 16 : kPoolPages;
    arm64::TablePool pool(table_pages, live_counts, pool_pages, PhysAddr(kPoolBase));
    Result<arm64::Stage1Table> table = arm64::Stage1Table::create(pool, options.va_bits);
    FUZZ_CHECK(table.ok());
    const std::vector<testing::ModelSegment> segments = testing::model_segments(want.entries, options.va_bits);
    const uint64_t needed = testing::model_table_pages(segments, options.va_bits);
    const Status mapped = mm::map_static_regions(map, table.value());
    if (needed > pool_pages) {
      FUZZ_CHECK(!mapped.ok() && mapped.error() == Error::kOutOfMemory);
      FUZZ_CHECK(pool.used() == 1);  // a refused build leaves only the root
      ++stats.out_of_tables;
      return;
    }
    FUZZ_CHECK(mapped.ok());
    FUZZ_CHECK(pool.used() == needed);
    ++stats.built;
    check_leaves(pool, table.value(), options.va_bits, segments);
    check_entry_ends(pool, table.value(), options.va_bits, map);
  }

 private:
  // ---- Registration ----------------------------------------------------------------------------------

  void register_regions(mm::PhysMemRegistry& registry, testing::RegistryModel& model) {
    const unsigned attempts = in_.take<uint8_t>() % 24;
    for (unsigned i = 0; i < attempts && in_.size > 0; ++i) {
      const uint8_t op = in_.take<uint8_t>();
      if ((op & 7) == 7) {
        covers(registry, model);
        continue;
      }
      const size_t count = (op & 7) == 6 ? 2 + (op >> 3) % 2 : (op & 7) == 5 ? 0 : 1;
      mm::Region batch[3];
      for (size_t k = 0; k < count; ++k) batch[k] = region(model);
      const std::vector<mm::Region> before(registry.begin(), registry.end());
      const mm::Refusal want = model.predict_add_all(batch, count);
      const mm::Refusal got = count == 1 ? registry.add(batch[0]) : registry.add_all(batch, count);
      if (got.error != want.error || got.region != want.region || got.conflicting != want.conflicting) {
        std::fprintf(stderr, "\nadd_all of %zu: the model refuses with %s (%s, %s), the registry with %s (%s, %s)\n",
                     count, error_name(want.error), want.region ? want.region : "-",
                     want.conflicting ? want.conflicting : "-", error_name(got.error), got.region ? got.region : "-",
                     got.conflicting ? got.conflicting : "-");
        FUZZ_CHECK(got.error == want.error && got.region == want.region && got.conflicting == want.conflicting);
      }
      if (want.ok()) model.add_all(batch, count);
      if (want.ok()) stats.added += count;
      if (!want.ok()) ++stats.refused[static_cast<unsigned>(want.error)];
      // Refused: exactly as before. Accepted: before plus the batch, in order.
      FUZZ_CHECK(registry.count() == model.regions().size());
      for (size_t k = 0; k < registry.count(); ++k) FUZZ_CHECK(same_region(registry[k], model.regions()[k]));
      if (!want.ok()) {
        FUZZ_CHECK(registry.count() == before.size());
        for (size_t k = 0; k < before.size(); ++k) FUZZ_CHECK(same_region(registry[k], before[k]));
      }
    }
  }

  void covers(const mm::PhysMemRegistry& registry, const testing::RegistryModel& model) {
    const auto kind = static_cast<mm::RegionKind>(in_.take<uint8_t>() % 5);
    uint64_t base = 0, size = 0;
    if (!model.regions().empty()) {
      const mm::Region& r = model.regions()[in_.take<uint8_t>() % model.regions().size()];
      base = r.base.value + (in_.take<uint8_t>() % 4) * (r.size.bytes / 4);
      size = (in_.take<uint8_t>() % 8) * (r.size.bytes / 2);
    } else {
      base = in_.take<uint32_t>();
      size = in_.take<uint32_t>();
    }
    FUZZ_CHECK(registry.covers(kind, PhysAddr(base), Size(size)) == model.covers(kind, base, size));
  }

  // Regions that overlap and touch often: clustered in the first GiB, near the last region, on
  // block boundaries; sometimes anything at all.
  mm::Region region(const testing::RegistryModel& model) {
    mm::Region r;
    r.name = names()[next_name_++ % names().size()].c_str();
    const uint8_t kind = in_.take<uint8_t>();
    r.kind = static_cast<mm::RegionKind>(kind % 5);
    const uint8_t type = in_.take<uint8_t>();
    r.type = static_cast<mm::MemoryType>(type % (mm::kMemoryTypeCount + 2));
    if ((kind & 0xc0) != 0xc0) {  // a type that fits the kind, so that most regions get past check_region
      const mm::MemoryType fitting[] = {mm::MemoryType::kTeeRam, mm::MemoryType::kSdpMem, mm::MemoryType::kRamNsec,
                                        mm::MemoryType::kDdrOverall,
                                        (type & 1) != 0 ? mm::MemoryType::kIoSec : mm::MemoryType::kIoNsec};
      if (r.kind != mm::RegionKind::kMapped) r.type = fitting[kind % 5];
    }
    const uint8_t shape = in_.take<uint8_t>();
    switch (shape % 8) {
      case 0:
      case 1:
      case 2:  // the first 256 MiB, 64 KiB granules: overlaps everywhere
        r.base = PhysAddr(uint64_t{in_.take<uint8_t>()} << 20);
        r.size = Size((uint64_t{in_.take<uint8_t>()} % 32 + 1) << 16);
        break;
      case 3:  // touching or overlapping the last registered region
        if (!model.regions().empty()) {
          const mm::Region& last = model.regions().back();
          const int64_t nudge = static_cast<int8_t>(in_.take<uint8_t>()) * int64_t{4096};
          r.base = PhysAddr((shape & 8 ? last.end() : last.base.value) + static_cast<uint64_t>(nudge));
          r.size = Size((uint64_t{in_.take<uint8_t>()} + 1) << 12);
          break;
        }
        [[fallthrough]];
      case 4:  // 2 MiB and 1 GiB blocks, and PAs far apart
        r.base = PhysAddr(uint64_t{in_.take<uint8_t>()} << ((shape & 8) ? 30 : 21));
        r.size = Size((uint64_t{in_.take<uint8_t>()} % 8 + 1) << ((shape & 16) ? 30 : 21));
        break;
      case 5:  // a VA reservation (sometimes with a base, which is refused)
        r.kind = mm::RegionKind::kMapped;
        r.type = (shape & 8)    ? mm::MemoryType::kShmVaspace
                 : (shape & 16) ? mm::MemoryType::kResVaspace
                                : mm::MemoryType::kPagerVaspace;
        r.base = PhysAddr((shape & 0x20) ? uint64_t{in_.take<uint8_t>()} << 12 : 0);
        r.size = Size((uint64_t{in_.take<uint8_t>()} + 1) << ((shape & 0x40) ? 21 : 16));
        break;
      case 6:  // the top of the physical address space, misalignment, zero sizes
        r.base = PhysAddr(kAddressLimit - (uint64_t{in_.take<uint8_t>()} << 12) - ((shape & 8) ? 1 : 0));
        r.size = Size((uint64_t{in_.take<uint8_t>()} << 12) + ((shape & 16) ? 0x800 : 0));
        break;
      case 7:  // anything
        r.base = PhysAddr(in_.take<uint64_t>());
        r.size = Size(in_.take<uint64_t>());
        break;
    }
    return r;
  }

  // ---- Layout -----------------------------------------------------------------------------------------------

  mm::LayoutOptions layout_options() {
    mm::LayoutOptions o;
    const uint8_t shape = in_.take<uint8_t>();
    const unsigned bits[] = {39, 39, 48, 48, 32, 30, 25, 39};
    o.va_bits = bits[shape & 7];
    if ((shape & 0x07) == 0x07 && (shape & 0x80) != 0) o.va_bits = (shape & 0x40) != 0 ? 24 : 49;  // out of range
    if ((shape & 0x18) == 0x08) o.va_offset = uint64_t{in_.take<uint8_t>()} << 21;
    if ((shape & 0x18) == 0x10) o.va_offset = uint64_t{in_.take<uint8_t>()} << 12;
    if ((shape & 0x78) == 0x78) o.va_offset = in_.take<uint16_t>();  // often misaligned
    const uint8_t alignment = in_.take<uint8_t>();
    if ((alignment & 3) == 1) o.reservation_alignment = uint64_t{1} << (12 + (alignment >> 2) % 37);
    if ((alignment & 0x1f) == 2) o.reservation_alignment = 0x3000;  // not a power of two
    return o;
  }

  void check_layout(const mm::MemoryMap& map, const mm::Refusal& built, const testing::LayoutPrediction& want) {
    if (built.error != want.error) {
      std::fprintf(stderr, "\nlayout: the model says %s, build says %s\n", error_name(want.error),
                   error_name(built.error));
      FUZZ_CHECK(built.error == want.error);
    }
    if (!built.ok()) {
      FUZZ_CHECK(map.count() == 0);
      FUZZ_CHECK((built.error == Error::kInvalidArgument) == (built.region == nullptr));
      return;
    }
    FUZZ_CHECK(map.count() == want.entries.size());
    std::multiset<std::pair<uint64_t, mm::MemoryType>> want_reservations, got_reservations;
    for (size_t i = 0; i < map.count(); ++i) {
      const mm::MapEntry& e = map[i];
      const testing::ModelEntry& m = want.entries[i];
      FUZZ_CHECK(e.va.value == m.va && e.size.bytes == m.size && e.is_va_reservation() == m.reservation);
      if (m.reservation) {
        // Equal sizes are placed in any order: which type lands where is not the contract.
        want_reservations.emplace(m.size, m.type);
        got_reservations.emplace(e.size.bytes, e.type);
      } else {
        FUZZ_CHECK(e.type == m.type && e.pa.value == m.pa && e.merged == m.names.size() && m.names.count(e.name) == 1);
      }
    }
    FUZZ_CHECK(want_reservations == got_reservations);
  }

  // ---- Tables ------------------------------------------------------------------------------------------------

  // Every leaf the walker can reach, in VA order, is the model's next leaf.
  static void check_leaves(const arm64::TablePool& pool, const arm64::Stage1Table& table, unsigned va_bits,
                           const std::vector<testing::ModelSegment>& segments) {
    size_t segment = 0;
    uint64_t next = segments.empty() ? 0 : segments[0].va;
    arm64::for_each_leaf(
        arm64::TableMemory{&pool}, table.raw().root(), va_bits, 0, ~uint64_t{0}, [&](const arm64::LeafVisit& leaf) {
          FUZZ_CHECK(segment < segments.size());
          const testing::ModelSegment& s = segments[segment];
          FUZZ_CHECK(leaf.input == next && leaf.level == s.level && leaf.size == testing::model_block_size(s.level));
          FUZZ_CHECK(arm64::descriptor_output(leaf.descriptor, leaf.level) == s.pa + (next - s.va));
          FUZZ_CHECK((leaf.descriptor & arm64::kUXN) != 0);  // EL0 never executes
          FUZZ_CHECK(arm64::decode_attributes(arm64::Stage::kStage1, leaf.descriptor) ==
                     testing::model_attributes(s.type));
          next += leaf.size;
          ++stats.leaves;
          if (leaf.level < 3) ++stats.block_leaves;
          if (next == s.end && ++segment < segments.size()) next = segments[segment].va;
        });
    FUZZ_CHECK(segment == segments.size());
  }

  // And the walk itself (which also checks the output size) agrees at each entry's ends.
  static void check_entry_ends(const arm64::TablePool& pool, const arm64::Stage1Table& table, unsigned va_bits,
                               const mm::MemoryMap& map) {
    for (const mm::MapEntry& e : map) {
      for (const uint64_t va : {e.va.value, e.end_va().value - 1}) {
        const arm64::WalkResult r = arm64::walk(arm64::TableMemory{&pool}, table.raw().root(), arm64::Stage::kStage1,
                                                va_bits, va, table.raw().output_bits());
        if (e.is_va_reservation()) {
          FUZZ_CHECK(r.fault == arm64::FaultKind::kTranslation);
        } else {
          FUZZ_CHECK(r.ok() && r.output == e.pa.value + (va - e.va.value));
          FUZZ_CHECK(r.attributes == testing::model_attributes(e.type));
        }
      }
    }
  }

  Reader& in_;
  size_t next_name_ = 0;
  mm::Region storage_[kMaxRegions];
  mm::MapEntry entries_[kMaxRegions];
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in{data, size};
  ++stats.inputs;
  Session(in).run();
  return 0;
}
