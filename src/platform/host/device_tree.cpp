// Reading flattened device trees (see device_tree.hpp).
#include "platform/host/device_tree.hpp"

extern "C" {
#include <libfdt.h>
}

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>

extern char** environ;

namespace teemm::platform::host {
namespace {

using u128 = unsigned __int128;
constexpr u128 kU64Max = UINT64_MAX;

// An error that stops the read: the node at fault and what is wrong with it.
struct TreeError {
  std::string node;
  std::string message;
};

std::string hex128(u128 value) {
  char text[48];
  const uint64_t high = static_cast<uint64_t>(value >> 64);
  const uint64_t low = static_cast<uint64_t>(value);
  if (high != 0)
    std::snprintf(text, sizeof(text), "0x%" PRIx64 "%016" PRIx64, high, low);
  else
    std::snprintf(text, sizeof(text), "0x%" PRIx64, low);
  return text;
}

// One `ranges` entry of a bus: child addresses [child, child + size) are parent addresses from `parent`.
struct RangeEntry {
  u128 child = 0;
  u128 parent = 0;
  u128 size = 0;
};

// What a node passes down to its children.
struct Level {
  std::string path;
  unsigned address_cells = 2;  // of its children's addresses (the spec's defaults when absent)
  unsigned size_cells = 1;
  bool bus = false;              // its children's reg reach the CPU's physical address space
  bool identity_ranges = false;  // `ranges;` (empty): child address = parent address
  std::vector<RangeEntry> ranges;
  Availability availability;
  bool reserved_memory = false;  // this is /reserved-memory
  bool pci = false;              // a PCI bus: its children's reg are config-space addresses, not MMIO
  bool gic = false;              // a GIC: its children (v2m frames, ITSs) are parts of it
};

std::string_view base_name(std::string_view name) { return name.substr(0, name.find('@')); }

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

class Reader {
 public:
  Reader(const void* fdt, DeviceTree* tree) : fdt_(fdt), tree_(tree) {}

  void read() {
    Level root;
    root.path = "/";
    read_own_cells(0, root.path, &root);
    root.bus = true;
    root.identity_ranges = true;
    root.availability = availability(0, root.path, Availability{});
    if (const char* model = string_property(0, root.path, "model"); model != nullptr) tree_->model = model;
    if (tree_->model.empty()) {
      const std::vector<std::string> compatible = string_list(0, root.path, "compatible");
      if (!compatible.empty()) tree_->model = compatible.front();
    }
    tree_->node_count = 1;
    std::vector<Level> stack;
    stack.push_back(std::move(root));
    int depth = 0;
    int offset = fdt_next_node(fdt_, 0, &depth);
    for (; offset >= 0; offset = fdt_next_node(fdt_, offset, &depth)) {
      if (depth < 1) break;  // back at (or above) the root: the tree is over
      ++tree_->node_count;
      int name_length = 0;
      const char* name = fdt_get_name(fdt_, offset, &name_length);
      if (name == nullptr) throw TreeError{stack[static_cast<size_t>(depth - 1)].path, "a child node without a name"};
      stack.resize(static_cast<size_t>(depth));
      const Level& parent = stack.back();
      std::string path = parent.path == "/" ? "/" : parent.path + "/";
      path.append(name, static_cast<size_t>(name_length));
      if (depth > kMaxDepth)
        throw TreeError{shorten(path), "nested deeper than " + std::to_string(kMaxDepth) + " levels"};
      Level level = visit(offset, depth, std::string_view(name, static_cast<size_t>(name_length)), path, stack);
      stack.push_back(std::move(level));
    }
    if (offset < 0 && offset != -FDT_ERR_NOTFOUND)
      throw TreeError{"/", std::string("structure block: ") + fdt_strerror(offset)};
  }

 private:
  const void* fdt_;
  DeviceTree* tree_;
  size_t entries_ = 0;

  // A path cut to its first and last three components when it is deep.
  static std::string shorten(const std::string& path) {
    std::vector<std::string> parts;
    for (size_t at = 1; at <= path.size();) {
      size_t slash = path.find('/', at);
      if (slash == std::string::npos) slash = path.size();
      parts.push_back(path.substr(at, slash - at));
      at = slash + 1;
    }
    if (parts.size() <= 8) return path;
    std::string out;
    for (size_t i = 0; i < 3; ++i) out += "/" + parts[i];
    out += "/...(" + std::to_string(parts.size() - 6) + " more)...";
    for (size_t i = parts.size() - 3; i < parts.size(); ++i) out += "/" + parts[i];
    return out;
  }

  void note(NoteLevel level, const std::string& node, std::string text) {
    tree_->notes.push_back(DtNote{level, node, std::move(text)});
  }

  // A property's bytes, or nullptr when absent (len set to 0). fdt_check_full has made every
  // property lie inside the blob.
  const uint8_t* property(int offset, const char* name, int* len) const {
    const void* value = fdt_getprop(fdt_, offset, name, len);
    if (value == nullptr) {
      *len = 0;
      return nullptr;
    }
    return static_cast<const uint8_t*>(value);
  }

  bool has_property(int offset, const char* name) const {
    int len = 0;
    return property(offset, name, &len) != nullptr;
  }

  // A NUL-terminated string property, or nullptr when absent; an error when not a string.
  const char* string_property(int offset, const std::string& path, const char* name) const {
    int len = 0;
    const uint8_t* value = property(offset, name, &len);
    if (value == nullptr) return nullptr;
    if (len < 1 || value[len - 1] != '\0') throw TreeError{path, std::string(name) + " is not a NUL-terminated string"};
    return reinterpret_cast<const char*>(value);
  }

  std::vector<std::string> string_list(int offset, const std::string& path, const char* name) const {
    int len = 0;
    const uint8_t* value = property(offset, name, &len);
    std::vector<std::string> out;
    if (value == nullptr || len == 0) return out;
    if (value[len - 1] != '\0') throw TreeError{path, std::string(name) + " is not a list of NUL-terminated strings"};
    const char* text = reinterpret_cast<const char*>(value);
    for (int at = 0; at < len;) {
      const size_t n = std::strlen(text + at);
      out.emplace_back(text + at, n);
      at += static_cast<int>(n) + 1;
    }
    return out;
  }

  // #address-cells / #size-cells of a node (for its children): one cell, at most 4 (FDT_MAX_NCELLS).
  // Zero is allowed here (interrupt controllers use it); it is refused where a reg needs the cells.
  unsigned cells(int offset, const std::string& path, const char* name, unsigned fallback) const {
    int len = 0;
    const uint8_t* value = property(offset, name, &len);
    if (value == nullptr) return fallback;
    if (len != 4) throw TreeError{path, std::string(name) + " is " + std::to_string(len) + " bytes, not one cell"};
    const uint32_t n = fdt32_ld(reinterpret_cast<const fdt32_t*>(value));
    if (n > FDT_MAX_NCELLS)
      throw TreeError{
          path, std::string(name) + " is " + std::to_string(n) + " (at most " + std::to_string(FDT_MAX_NCELLS) + ")"};
    return n;
  }

  void read_own_cells(int offset, const std::string& path, Level* level) const {
    level->address_cells = cells(offset, path, "#address-cells", 2);
    level->size_cells = cells(offset, path, "#size-cells", 1);
  }

  static bool okay(const char* status) {
    return status == nullptr || std::strcmp(status, "okay") == 0 || std::strcmp(status, "ok") == 0;
  }

  Availability availability(int offset, const std::string& path, const Availability& parent) const {
    const char* status = string_property(offset, path, "status");
    const char* secure_status = string_property(offset, path, "secure-status");
    const bool non_secure = okay(status);
    const bool secure = secure_status != nullptr ? okay(secure_status) : non_secure;
    return Availability{non_secure && parent.non_secure, secure && parent.secure};
  }

  static u128 read_number(const uint8_t* at, unsigned count) {
    u128 value = 0;
    for (unsigned i = 0; i < count; ++i) value = (value << 32) | fdt32_ld(reinterpret_cast<const fdt32_t*>(at + 4 * i));
    return value;
  }

  void count_entries(size_t n, const std::string& path) {
    entries_ += n;
    if (entries_ > kMaxEntries)
      throw TreeError{path, "more than " + std::to_string(kMaxEntries) + " reg and ranges entries in the tree"};
  }

  // The node's `ranges`, in its own (child) and its parent's address cells.
  void read_ranges(int offset, const std::string& path, const Level& parent, Level* level) {
    int len = 0;
    const uint8_t* value = property(offset, "ranges", &len);
    if (value == nullptr) return;
    level->bus = parent.bus;
    if (len == 0) {
      level->identity_ranges = true;
      return;
    }
    if (!parent.bus) return;  // its addresses never reach the CPU: nothing to translate
    if (level->address_cells == 0 || level->size_cells == 0 || parent.address_cells == 0)
      throw TreeError{path, "ranges needs #address-cells and #size-cells of at least 1 (here " +
                                std::to_string(level->address_cells) + " and " + std::to_string(level->size_cells) +
                                ", and " + std::to_string(parent.address_cells) + " in the parent)"};
    const unsigned entry_cells = level->address_cells + parent.address_cells + level->size_cells;
    if (static_cast<unsigned>(len) % (4 * entry_cells) != 0)
      throw TreeError{
          path, "ranges is " + std::to_string(len) + " bytes, not a multiple of " + std::to_string(4 * entry_cells) +
                    " (child #address-cells " + std::to_string(level->address_cells) + ", parent #address-cells " +
                    std::to_string(parent.address_cells) + ", #size-cells " + std::to_string(level->size_cells) + ")"};
    const size_t count = static_cast<unsigned>(len) / (4 * entry_cells);
    count_entries(count, path);
    for (size_t i = 0; i < count; ++i) {
      const uint8_t* at = value + i * 4 * entry_cells;
      RangeEntry e;
      e.child = read_number(at, level->address_cells);
      e.parent = read_number(at + 4 * level->address_cells, parent.address_cells);
      e.size = read_number(at + 4 * (level->address_cells + parent.address_cells), level->size_cells);
      level->ranges.push_back(e);
    }
  }

  // Translates `address` of a child of stack level `bus` up to the root, as of_translate_address does
  // (the start address must lie in one of each ancestor's ranges). False: no CPU address.
  static bool translate(const std::vector<const Level*>& chain, u128* address, std::string* outside) {
    for (const Level* bus : chain) {
      if (bus->identity_ranges) continue;
      bool found = false;
      for (const RangeEntry& e : bus->ranges) {
        if (*address >= e.child && *address - e.child < e.size) {
          *address = e.parent + (*address - e.child);
          found = true;
          break;
        }
      }
      if (!found) {
        *outside = bus->path;
        return false;
      }
    }
    return true;
  }

  // The reg entries of a node whose parent is a bus, as CPU physical ranges. Entries outside the
  // buses' ranges are noted and left out; zero-size entries are kept (the caller decides).
  struct RegEntry {
    unsigned index;
    DtRange range;
  };
  std::vector<RegEntry> read_reg(int offset, const std::string& path, const std::vector<const Level*>& chain) {
    const Level& parent = *chain.front();
    int len = 0;
    const uint8_t* value = property(offset, "reg", &len);
    std::vector<RegEntry> out;
    if (value == nullptr || len == 0) return out;
    const std::string where = " (#address-cells " + std::to_string(parent.address_cells) + ", #size-cells " +
                              std::to_string(parent.size_cells) + " in " + parent.path + ")";
    if (parent.address_cells == 0 || parent.size_cells == 0)
      throw TreeError{path, "reg needs #address-cells and #size-cells of at least 1" + where};
    const unsigned entry_cells = parent.address_cells + parent.size_cells;
    if (static_cast<unsigned>(len) % (4 * entry_cells) != 0)
      throw TreeError{path, "reg is " + std::to_string(len) + " bytes, not a multiple of " +
                                std::to_string(4 * entry_cells) + where};
    const size_t count = static_cast<unsigned>(len) / (4 * entry_cells);
    count_entries(count, path);
    for (size_t i = 0; i < count; ++i) {
      const uint8_t* at = value + i * 4 * entry_cells;
      u128 address = read_number(at, parent.address_cells);
      const u128 size = read_number(at + 4 * parent.address_cells, parent.size_cells);
      const std::string entry = "reg[" + std::to_string(i) + "]";
      if (size > kU64Max) throw TreeError{path, entry + " size " + hex128(size) + " does not fit in 64 bits"};
      std::string outside;
      if (!translate(chain, &address, &outside)) {
        note(NoteLevel::kWarning, path,
             entry + " at " + hex128(read_number(at, parent.address_cells)) + " lies outside the ranges of " + outside +
                 ": it has no CPU address and is left out");
        continue;
      }
      if (address > kU64Max) throw TreeError{path, entry + " address " + hex128(address) + " does not fit in 64 bits"};
      if (size > 0 && size - 1 > kU64Max - address)
        throw TreeError{path, entry + " " + hex128(address) + " + " + hex128(size) + " wraps past 2^64"};
      out.push_back(
          RegEntry{static_cast<unsigned>(i), DtRange{static_cast<uint64_t>(address), static_cast<uint64_t>(size)}});
    }
    return out;
  }

  static ReservedRole reserved_role(std::string_view name, const std::vector<std::string>& compatible) {
    const std::string base = lower(base_name(name));
    bool optee = contains(base, "optee") || base.rfind("tee", 0) == 0;
    bool shm = contains(base, "shm");
    for (const std::string& c : compatible) {
      optee = optee || contains(lower(c), "optee");
      shm = shm || (contains(lower(c), "optee") && contains(lower(c), "shm"));
    }
    if (!optee) return ReservedRole::kOther;
    return shm ? ReservedRole::kOpteeShm : ReservedRole::kOpteeCore;
  }

  static bool is_uart(std::string_view name, const std::vector<std::string>& compatible) {
    const std::string base = lower(base_name(name));
    if (base == "serial" || base == "uart") return true;
    for (const std::string& text : compatible) {
      const std::string c = lower(text);
      for (const char* part : {"uart", "pl011", "16550", "8250", "serial", "scif", "usart"})
        if (contains(c, part)) return true;
    }
    return false;
  }

  // 0: not a GIC; 2: a GICv1/v2 (distributor, CPU interface, then GICH/GICV); 3: a GICv3/v4
  // (distributor, redistributor regions, then GICC/GICH/GICV).
  static int gic_version(const std::vector<std::string>& compatible) {
    static const char* const kGicV2[] = {
        "arm,gic-400",        "arm,cortex-a15-gic", "arm,cortex-a9-gic",          "arm,cortex-a7-gic",
        "arm,cortex-a5-gic",  "arm,arm11mp-gic",    "arm,arm1176jzf-devchip-gic", "arm,eb11mp-gic",
        "arm,pl390",          "arm,tc11mp-gic",     "qcom,msm-8660-qgic",         "qcom,msm-qgic2",
        "brcm,brahma-b15-gic"};
    for (const std::string& c : compatible) {
      if (c == "arm,gic-v3") return 3;
      for (const char* known : kGicV2)
        if (c == known) return 2;
    }
    return 0;
  }

  // `ancestors` runs from the root to the node's parent.
  Level visit(int offset, int depth, std::string_view name, const std::string& path,
              const std::vector<Level>& ancestors) {
    const Level& parent = ancestors.back();
    Level level;
    level.path = path;
    read_own_cells(offset, path, &level);
    level.availability = availability(offset, path, parent.availability);
    read_ranges(offset, path, parent, &level);
    const std::vector<std::string> compatible = string_list(offset, path, "compatible");
    const char* device_type = string_property(offset, path, "device_type");

    if (depth == 1 && base_name(name) == "reserved-memory") {
      level.reserved_memory = true;
      tree_->reserved_memory_node = true;
      if (!level.bus)
        note(NoteLevel::kError, path,
             "no ranges property: the addresses of its children cannot be read (Linux ignores them all)");
      return level;
    }
    for (const std::string& c : compatible)
      if (c == "linaro,optee-tz" && tree_->optee_node.empty()) {
        tree_->optee_node = path;
        if (const char* method = string_property(offset, path, "method"); method != nullptr)
          tree_->optee_method = method;
      }
    if (path == "/firmware/optee" && tree_->optee_node.empty()) {
      tree_->optee_node = path;
      if (const char* method = string_property(offset, path, "method"); method != nullptr) tree_->optee_method = method;
    }
    if (!parent.bus) return level;  // no CPU address for its reg (CPUs, I2C, SPI, ...)
    if (parent.pci) return level;   // a PCI function: BARs come from enumeration, not from reg
    level.pci =
        device_type != nullptr && (std::strcmp(device_type, "pci") == 0 || std::strcmp(device_type, "pciex") == 0);
    const bool has_reg = has_property(offset, "reg");

    if (parent.reserved_memory) {
      if (!has_reg) {
        if (has_property(offset, "size"))
          note(NoteLevel::kInfo, path,
               "a dynamic reservation (size, no reg): the OS places it, its address is unknown");
        return level;
      }
      if (!level.availability.any()) {
        note(NoteLevel::kInfo, path, "disabled: reserves nothing");
        return level;
      }
      const ReservedRole role = reserved_role(name, compatible);
      for (const RegEntry& e : read_reg(offset, path, bus_chain(ancestors))) {
        if (e.range.size == 0) {
          note(NoteLevel::kWarning, path, "reg[" + std::to_string(e.index) + "] has size 0: reserves nothing");
          continue;
        }
        tree_->reserved.push_back(DtReserved{path, e.index, e.range, has_property(offset, "no-map"),
                                             has_property(offset, "reusable"), role, level.availability});
      }
      return level;
    }

    if (device_type != nullptr && std::strcmp(device_type, "memory") == 0) {
      if (!has_reg) {
        note(NoteLevel::kWarning, path, "a memory node without reg");
        return level;
      }
      if (!level.availability.any()) {
        note(NoteLevel::kInfo, path, "a memory node disabled for both worlds: left out");
        return level;
      }
      for (const RegEntry& e : read_reg(offset, path, bus_chain(ancestors))) {
        if (e.range.size == 0) {
          note(NoteLevel::kWarning, path,
               "reg[" + std::to_string(e.index) + "] has size 0 (left for the boot loader to fill in?)");
          continue;
        }
        tree_->memory.push_back(DtMemory{path, e.index, e.range, level.availability});
      }
      return level;
    }

    const int gic = gic_version(compatible);
    level.gic = gic != 0;
    // Parts of a GIC (MSI frames, ITSs) are the GIC's business, not devices the TEE maps.
    if (!has_reg || compatible.empty() || !level.availability.any() || parent.gic) return level;
    const bool uart = gic == 0 && is_uart(name, compatible);
    unsigned gic_cpu_entries = 2;
    if (gic == 3) {
      gic_cpu_entries = 1 + 1;
      int len = 0;
      if (const uint8_t* value = property(offset, "#redistributor-regions", &len); value != nullptr && len == 4)
        gic_cpu_entries =
            1 + std::max<uint32_t>(1, std::min<uint32_t>(fdt32_ld(reinterpret_cast<const fdt32_t*>(value)), 1024));
    }
    for (const RegEntry& e : read_reg(offset, path, bus_chain(ancestors))) {
      if (e.range.size == 0) {
        note(NoteLevel::kInfo, path, "reg[" + std::to_string(e.index) + "] has size 0: left out");
        continue;
      }
      DtDevice d;
      d.node = path;
      d.index = e.index;
      d.range = e.range;
      d.compatible = compatible.front();
      d.device_class = gic != 0 ? DeviceClass::kGic : uart ? DeviceClass::kUart : DeviceClass::kOther;
      d.gic_cpu_facing = gic != 0 && e.index < gic_cpu_entries;
      d.availability = level.availability;
      tree_->devices.push_back(std::move(d));
    }
    return level;
  }

  // The buses a reg of the node passes, from its parent up to the root: every `ranges` on the way.
  static std::vector<const Level*> bus_chain(const std::vector<Level>& ancestors) {
    std::vector<const Level*> chain;
    for (size_t i = ancestors.size(); i-- > 0;) chain.push_back(&ancestors[i]);
    return chain;
  }
};

}  // namespace

const char* availability_name(const Availability& a) {
  if (a.secure && a.non_secure) return "both";
  if (a.secure) return "secure-only";
  if (a.non_secure) return "non-secure-only";
  return "disabled";
}

const char* reserved_role_name(ReservedRole role) {
  switch (role) {
    case ReservedRole::kOther: return "other";
    case ReservedRole::kOpteeCore: return "optee-core";
    case ReservedRole::kOpteeShm: return "optee-shm";
  }
  return "unknown";
}

const char* device_class_name(DeviceClass c) {
  switch (c) {
    case DeviceClass::kUart: return "uart";
    case DeviceClass::kGic: return "gic";
    case DeviceClass::kOther: return "device";
  }
  return "unknown";
}

namespace {
// Node names and property text come from the tree: a malformed one may hold control bytes, and an
// error must stay one line. Those bytes are shown as \xNN.
std::string printable(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
      continue;
    }
    static const char kHex[] = "0123456789abcdef";
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}
}  // namespace

DtReadResult read_device_tree(const void* blob, size_t size, const std::string& source) {
  DtReadResult result;
  result.tree.source = source;
  const std::string prefix = source.empty() ? "" : source + ": ";
  if (size < FDT_V1_SIZE || blob == nullptr) {
    result.error = prefix + "not a flattened device tree: " + std::to_string(size) + " bytes, too short for a header";
    return result;
  }
  if (size > kMaxBlobSize) {
    result.error = prefix + "larger than " + std::to_string(kMaxBlobSize >> 20) + " MiB";
    return result;
  }
  if (fdt_magic(blob) != FDT_MAGIC) {
    char text[96];
    std::snprintf(text, sizeof(text), "bad magic 0x%08x (a flattened device tree starts with 0xd00dfeed)",
                  fdt_magic(blob));
    result.error = prefix + text;
    return result;
  }
  if (fdt_totalsize(blob) > size) {
    result.error = prefix + "truncated: the header says " + std::to_string(fdt_totalsize(blob)) +
                   " bytes, the file has " + std::to_string(size);
    return result;
  }
  if (int err = fdt_check_full(blob, size); err != 0) {
    result.error = prefix + "malformed flattened device tree: " + fdt_strerror(err);
    return result;
  }
  if (int length = 0; fdt_get_name(blob, 0, &length) == nullptr) {
    result.error = prefix + "malformed flattened device tree: no root node";
    return result;
  }
  try {
    Reader reader(blob, &result.tree);
    reader.read();
  } catch (const TreeError& e) {
    result.error = prefix + printable(e.node + ": " + e.message);
    result.tree = DeviceTree{};
    result.tree.source = source;
  }
  return result;
}

namespace {

// The whole file, or an error naming it.
std::string read_file(const std::string& path, std::vector<char>* bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return path + ": cannot open: " + std::strerror(errno);
  in.seekg(0, std::ios::end);
  const std::streamoff length = in.tellg();
  if (length < 0) return path + ": cannot read";
  if (static_cast<uint64_t>(length) > kMaxBlobSize)
    return path + ": larger than " + std::to_string(kMaxBlobSize >> 20) + " MiB";
  in.seekg(0, std::ios::beg);
  bytes->resize(static_cast<size_t>(length));
  if (length > 0 && !in.read(bytes->data(), length)) return path + ": cannot read";
  return "";
}

// A file in $TMPDIR (or /tmp) that removes itself.
struct TempFile {
  std::string path;
  int fd = -1;
  TempFile() {
    const char* dir = std::getenv("TMPDIR");
    std::string pattern = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/teemm-dtc-XXXXXX";
    std::vector<char> text(pattern.begin(), pattern.end());
    text.push_back('\0');
    fd = mkstemp(text.data());
    if (fd >= 0) path = text.data();
  }
  ~TempFile() {
    if (fd >= 0) close(fd);
    if (!path.empty()) unlink(path.c_str());
  }
};

std::string first_line(const std::string& text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty()) return line;
    start = end + 1;
  }
  return "";
}

}  // namespace

std::string compile_dts(const std::string& path, std::vector<char>* blob) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return path + ": cannot open: " + std::strerror(errno);
  TempFile output;
  TempFile messages;
  if (output.fd < 0 || messages.fd < 0) return std::string("cannot create a temporary file: ") + std::strerror(errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, messages.fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, messages.fd, STDERR_FILENO);
  // -q: warnings are the lint's business, not dtc's; errors still stop it.
  std::vector<std::string> args = {"dtc", "-q", "-I", "dts", "-O", "dtb", "-o", output.path, path};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, "dtc", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return std::string("cannot run dtc (install device-tree-compiler): ") + std::strerror(spawned);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return std::string("waiting for dtc: ") + std::strerror(errno);
  }
  std::vector<char> text;
  (void)read_file(messages.path, &text);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return "cannot run dtc (install device-tree-compiler)";
    const std::string line = first_line(std::string(text.begin(), text.end()));
    return path + ": dtc refused it" + (line.empty() ? std::string() : ": " + line);
  }
  return read_file(output.path, blob);
}

DtReadResult read_dtb_file(const std::string& path) {
  std::vector<char> bytes;
  if (std::string error = read_file(path, &bytes); !error.empty()) {
    DtReadResult result;
    result.tree.source = path;
    result.error = error;
    return result;
  }
  return read_device_tree(bytes.data(), bytes.size(), path);
}

DtReadResult read_dts_file(const std::string& path) {
  std::vector<char> bytes;
  if (std::string error = compile_dts(path, &bytes); !error.empty()) {
    DtReadResult result;
    result.tree.source = path;
    result.error = error;
    return result;
  }
  return read_device_tree(bytes.data(), bytes.size(), path);
}

}  // namespace teemm::platform::host
