// Text and JSON rendering for the CLI (see render.hpp).
#include "render.hpp"

#include <nlohmann/json.hpp>

#include <cinttypes>
#include <cstdio>
#include <vector>

namespace teemm::tool {
namespace {

// Members keep the order they were added in: tests and readers rely on it.
using Json = nlohmann::ordered_json;

std::string format(const char* fmt, auto... args) {
  char buffer[256];
  std::snprintf(buffer, sizeof(buffer), fmt, args...);
  return buffer;
}

// The tool's JSON layout: ", " and ": " between items, one line per value, except that a document
// (`teemm map --json`) puts each top-level member on its own line and each element of a non-empty
// top-level array on its own line too. nlohmann does the values; this only places the whitespace.
void write_inline(const Json& value, std::string& out) {
  if (value.is_object()) {
    out += '{';
    const char* separator = "";
    for (const auto& [key, member] : value.items()) {
      out += separator + Json(key).dump() + ": ";
      write_inline(member, out);
      separator = ", ";
    }
    out += '}';
  } else if (value.is_array()) {
    out += '[';
    const char* separator = "";
    for (const Json& element : value) {
      out += separator;
      write_inline(element, out);
      separator = ", ";
    }
    out += ']';
  } else {
    out += value.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
}

std::string one_line(const Json& value) {
  std::string out;
  write_inline(value, out);
  return out + "\n";
}

std::string document(const Json& object) {
  std::string out = "{";
  const char* separator = "\n  ";
  for (const auto& [key, member] : object.items()) {
    out += separator + Json(key).dump() + ": ";
    separator = ",\n  ";
    if (!member.is_array() || member.empty()) {
      write_inline(member, out);
      continue;
    }
    const char* element_separator = "[\n    ";
    for (const Json& element : member) {
      out += element_separator;
      write_inline(element, out);
      element_separator = ",\n    ";
    }
    out += "\n  ]";
  }
  return out + "\n}\n";
}

// How much of a VA reservation the live address space uses (zero for one it does not manage).
mm::ReservationUsage usage_of(const Session& session, const mm::MapEntry& e) {
  if (e.type == mm::MemoryType::kShmVaspace) return session.space().shm_usage();
  if (e.type == mm::MemoryType::kResVaspace) return session.space().io_usage();
  return {};
}

std::string attributes_text(const Session& session, const mm::MapEntry& e) {
  const mm::TypeAttributes& t = mm::type_attributes(e.type);
  if (e.is_va_reservation()) {
    const mm::ReservationUsage usage = usage_of(session, e);
    return "reserved VA: " + human_size(usage.in_use.bytes) + " in use, " + std::to_string(usage.ranges) + " ranges";
  }
  return std::string(t.secure ? "secure" : "non-secure") + " P:" + access_string(t.privileged) + " " +
         memory_kind_name(t.memory);
}

Json attributes_json(const Session& session, const mm::MapEntry& e) {
  const mm::TypeAttributes& t = mm::type_attributes(e.type);
  if (e.is_va_reservation()) {
    const mm::ReservationUsage usage = usage_of(session, e);
    return {{"mapped", false}, {"in_use", usage.in_use.bytes}, {"ranges", usage.ranges}};
  }
  return {{"secure", t.secure},
          {"privileged", access_string(t.privileged)},
          {"memory", memory_kind_name(t.memory)},
          {"mapped", true}};
}

// The live ranges, collected first: the visitor runs under the address-space lock, which the
// lookups below take again.
std::vector<mm::VaRange> dynamic_ranges(const Session& session) {
  std::vector<mm::VaRange> ranges;
  session.space().for_each_range([&](const mm::VaRange& r) { ranges.push_back(r); });
  return ranges;
}

std::string dynamic_ranges_text(const Session& session) {
  std::string out;
  for (const mm::VaRange& r : dynamic_ranges(session)) {
    const Result<PhysAddr> pa = session.space().virt_to_phys(r.start);
    out += format("  %-5s VA %s  size %-10s PA %s  owner %u%s\n", mm::va_range_kind_name(r.kind),
                  hex(r.start.value).c_str(), human_size(r.size.bytes).c_str(), pa ? hex(pa->value).c_str() : "-",
                  r.owner.value, r.guard_page ? "  + guard page" : "");
  }
  return out.empty() ? out : "\ndynamic ranges:\n" + out;
}

Json dynamic_ranges_json(const Session& session) {
  Json ranges = Json::array();
  for (const mm::VaRange& r : dynamic_ranges(session)) {
    const Result<PhysAddr> pa = session.space().virt_to_phys(r.start);
    ranges.push_back({{"kind", mm::va_range_kind_name(r.kind)},
                      {"va", hex(r.start.value)},
                      {"size", r.size.bytes},
                      {"pa", pa ? hex(pa->value) : ""},
                      {"owner", r.owner.value}});
  }
  return ranges;
}

Json decoded_json(const arm64::DecodedAttributes& a) {
  return {{"secure", !a.non_secure},
          {"privileged", access_string(a.privileged)},
          {"unprivileged", access_string(a.unprivileged)},
          {"memory", memory_kind_name(a.memory)},
          {"shareability", a.shareability},
          {"global", a.global}};
}

std::string decoded_text(const arm64::DecodedAttributes& a) {
  return std::string(a.non_secure ? "non-secure" : "secure") + " P:" + access_string(a.privileged) +
         " U:" + access_string(a.unprivileged) + " " + memory_kind_name(a.memory) + (a.global ? "" : " nG");
}

const char* leaf_name(unsigned level) { return level == arm64::kLastLevel ? "page" : "block"; }

void dump_table(const Session& session, PhysAddr table, unsigned level, uint64_t base, std::string& out) {
  const uint64_t* entries = session.pool().entries(table);
  const unsigned count = level == session.table().raw().start_level()
                             ? arm64::root_entries_for(session.table().raw().input_bits())
                             : arm64::kEntriesPerTable;
  const std::string indent(2 * (level - session.table().raw().start_level()), ' ');
  for (unsigned i = 0; i < count; ++i) {
    const uint64_t d = entries[i];
    if (!arm64::descriptor_is_valid(d)) continue;
    const uint64_t input = base + (uint64_t{i} << arm64::level_shift(level));
    out += indent + format("L%u[%03u] VA %s  desc %s  ", level, i, hex(input).c_str(), hex(d).c_str());
    if (arm64::descriptor_is_table(d, level)) {
      const PhysAddr next = arm64::descriptor_next_table(d);
      out += "table -> " + hex(next.value) + "\n";
      dump_table(session, next, level + 1, input, out);
    } else {
      out += format("%s PA %s %s\n", leaf_name(level), hex(arm64::descriptor_output(d, level)).c_str(),
                    decoded_text(arm64::decode_attributes(arm64::Stage::kStage1, d)).c_str());
    }
  }
}

}  // namespace

std::string hex(uint64_t value) { return format("0x%012" PRIx64, value); }

std::string access_string(const arm64::Access& a) {
  return std::string(a.read ? "r" : "-") + (a.write ? "w" : "-") + (a.execute ? "x" : "-");
}

const char* memory_kind_name(arm64::MemoryKind kind) {
  switch (kind) {
    case arm64::MemoryKind::kDevice: return "device";
    case arm64::MemoryKind::kNormalWriteBack: return "normal-wb";
    case arm64::MemoryKind::kNormalNonCacheable: return "normal-nc";
    case arm64::MemoryKind::kDeviceStronglyOrdered: return "device-nGnRnE";
  }
  return "unknown";
}

std::string human_size(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  unsigned unit = 0;
  while (unit < 4 && bytes >= (uint64_t{1024} << (10 * unit))) ++unit;
  const uint64_t scale = uint64_t{1} << (10 * unit);
  if (bytes % scale == 0) return format("%" PRIu64 " %s", bytes / scale, units[unit]);
  return format("%.1f %s", static_cast<double>(bytes) / static_cast<double>(scale), units[unit]);
}

std::string render_map_text(const Session& session) {
  const mm::MemoryMap& map = session.map();
  std::string out = format("teemm map: platform %s, %u-bit VA, VA offset %s\n\n", session.platform_name().c_str(),
                           map.options().va_bits, hex(map.options().va_offset).c_str());
  out += format("%-16s %-14s %-16s %-16s %-10s %s\n", "NAME", "TYPE", "PA", "VA", "SIZE", "ATTRIBUTES");
  for (const mm::MapEntry& e : map) {
    out += format("%-16s %-14s %-16s %-16s %-10s %s\n", e.name, mm::memory_type_name(e.type),
                  e.is_va_reservation() ? "-" : hex(e.pa.value).c_str(), hex(e.va.value).c_str(),
                  human_size(e.size.bytes).c_str(), attributes_text(session, e).c_str());
  }
  out += dynamic_ranges_text(session);
  const arm64::TableStatistics& s = session.table().raw().statistics();
  out += format("\ntables: %" PRIu64 " pages (%s) at PA %s\n", s.table_pages,
                human_size(s.table_pages * kPageSize).c_str(), hex(session.pool().base().value).c_str());
  for (unsigned level = session.table().raw().start_level(); level <= arm64::kLastLevel; ++level)
    out += format("  level %u: %" PRIu64 " tables, %" PRIu64 " table descriptors, %" PRIu64 " %ss\n", level,
                  s.tables[level], s.table_descriptors[level], s.leaves[level], leaf_name(level));
  return out;
}

std::string render_map_json(const Session& session) {
  const mm::MemoryMap& map = session.map();
  Json regions = Json::array();
  for (const mm::MapEntry& e : map) {
    regions.push_back({{"name", e.name},
                       {"type", mm::memory_type_name(e.type)},
                       {"pa", e.is_va_reservation() ? Json(nullptr) : Json(hex(e.pa.value))},
                       {"va", hex(e.va.value)},
                       {"size", e.size.bytes},
                       {"attrs", attributes_json(session, e)}});
  }
  const arm64::TableStatistics& s = session.table().raw().statistics();
  Json levels = Json::array();
  for (unsigned level = session.table().raw().start_level(); level <= arm64::kLastLevel; ++level) {
    levels.push_back({{"level", level},
                      {"tables", s.tables[level]},
                      {"table_descriptors", s.table_descriptors[level]},
                      {std::string(leaf_name(level)) + "s", s.leaves[level]}});
  }
  Json out;
  out["platform"] = session.platform_name();
  out["va_bits"] = map.options().va_bits;
  out["va_offset"] = hex(map.options().va_offset);
  out["regions"] = std::move(regions);
  out["dynamic"] = dynamic_ranges_json(session);
  out["tables"] = {
      {"pages", s.table_pages}, {"pool_pa", hex(session.pool().base().value)}, {"levels", std::move(levels)}};
  return document(out);
}

std::string render_dump(const Session& session) {
  const arm64::TranslationTable& t = session.table().raw();
  std::string out = format("root %s, level %u, %u-bit input, MAIR %s\n", hex(t.root().value).c_str(), t.start_level(),
                           t.input_bits(), hex(arm64::kMairValue).c_str());
  dump_table(session, t.root(), t.start_level(), 0, out);
  return out;
}

std::string render_translation_text(const Session& session, uint64_t va) {
  const arm64::WalkResult r = session.translate(va);
  if (!r.ok())
    return format("VA %s: %s fault at level %u\n", hex(va).c_str(), arm64::fault_kind_name(r.fault), r.level);
  const mm::MapEntry* entry = session.map().find(VirtAddr(va));
  return format("VA %s -> PA %s  level %u %s (%s)  %s  [%s]\n", hex(va).c_str(), hex(r.output).c_str(), r.level,
                leaf_name(r.level), human_size(r.leaf_size).c_str(), decoded_text(r.attributes).c_str(),
                entry != nullptr ? entry->name : "?");
}

std::string render_translation_json(const Session& session, uint64_t va) {
  const arm64::WalkResult r = session.translate(va);
  Json out;
  out["va"] = hex(va);
  if (!r.ok()) {
    out["fault"] = {{"kind", arm64::fault_kind_name(r.fault)}, {"level", r.level}};
    return one_line(out);
  }
  out["pa"] = hex(r.output);
  out["level"] = r.level;
  out["leaf_size"] = r.leaf_size;
  out["descriptor"] = hex(r.descriptor);
  out["attrs"] = decoded_json(r.attributes);
  return one_line(out);
}

}  // namespace teemm::tool
