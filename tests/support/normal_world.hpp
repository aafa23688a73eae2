// tests/support/normal_world: a normal world for dispatcher tests — the qemu-virt secure world on
// the host (tool::SecureWorld) and the calls a driver makes, spelt out.
#pragma once

#include <vector>

#include "optee/abi.hpp"
#include "optee/service.hpp"
#include "platform/builtin/qemu_virt.hpp"
#include "secure_world.hpp"

namespace teemm::testing {

inline std::vector<mm::Region> qemu_virt_regions() {
  return {platform::qemu_virt::kRegions, platform::qemu_virt::kRegions + platform::qemu_virt::kRegionCount};
}

inline tool::SessionOptions world_session_options(size_t ranges = 4096) {
  tool::SessionOptions options;
  options.dynamic_ranges = ranges;
  options.table_pages = 8192;
  return options;
}

// qemu-virt with room for 1 GiB buffers: 4 GiB of non-secure DRAM and a 2 GiB SHM reservation
// (for benchmarks of the largest registrations).
inline std::vector<mm::Region> large_qemu_virt_regions() {
  std::vector<mm::Region> regions;
  for (const mm::Region& r : qemu_virt_regions()) {
    mm::Region copy = r;
    if (r.kind == mm::RegionKind::kNonSecureDdr ||
        (r.kind == mm::RegionKind::kOverallDdr && r.base.value != 0x0e00'0000))
      copy.size = Size(uint64_t{4} << 30);
    if (r.type == mm::MemoryType::kShmVaspace) copy.size = Size(uint64_t{2} << 30);
    regions.push_back(copy);
  }
  return regions;
}

struct NormalWorld {
  explicit NormalWorld(const tool::SecureWorldOptions& options = {}, size_t ranges = 4096,
                       const std::vector<mm::Region>& regions = qemu_virt_regions())
      : session("qemu-virt", regions, world_session_options(ranges)), world(session, options) {}

  // Where this normal world keeps things (all non-secure DRAM, away from the carve-out).
  static constexpr uint64_t kArgs = 0x4010'0000;   // one page per message slot
  static constexpr uint64_t kLists = 0x4100'0000;  // page lists
  static constexpr uint64_t kData = 0x4400'0000;   // buffers

  optee::SmcArgs smc(uint64_t a0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint16_t guest = 0,
                     uint64_t a4 = 0, uint64_t a5 = 0) {
    optee::SmcArgs in;
    in.a[0] = a0;
    in.a[1] = a1;
    in.a[2] = a2;
    in.a[3] = a3;
    in.a[4] = a4;
    in.a[5] = a5;
    in.a[7] = guest;
    return world.smc(in);
  }

  // CALL_WITH_ARG on a message written at kArgs + slot pages; returns a0 and leaves the answer in `out`.
  uint64_t call(const optee::MsgArg& message, optee::MsgArg& out, uint16_t guest = 0, unsigned slot = 0) {
    const uint64_t pa = kArgs + slot * kPageSize;
    tool::write_message(world.ram(), pa, message);
    const optee::SmcArgs r = smc(optee::kCallWithArg, pa >> 32, pa & 0xFFFFFFFF, 0, guest);
    last = r;
    out = tool::read_message(world.ram(), pa);
    return r.a[0];
  }

  static optee::MsgArg register_message(uint64_t buf_ptr, uint64_t size, uint64_t cookie) {
    optee::MsgArg m;
    m.cmd = optee::kCmdRegisterShm;
    m.num_params = 1;
    m.params[0] = {optee::kAttrTmemOutput | optee::kAttrNonContig, buf_ptr, size, cookie};
    return m;
  }

  // Registers `pages` (a list written at kLists + list_slot MiB) as cookie; returns the message's ret.
  uint32_t register_pages(const std::vector<uint64_t>& pages, uint64_t cookie, uint16_t guest = 0, uint64_t offset = 0,
                          uint64_t size = 0, unsigned list_slot = 0) {
    const uint64_t buf_ptr = tool::write_page_list(world.ram(), kLists + list_slot * 0x10'0000, pages, offset);
    optee::MsgArg out;
    const uint64_t bytes = size != 0 ? size : pages.size() * kPageSize - offset;
    if (call(register_message(buf_ptr, bytes, cookie), out, guest) != optee::kReturnOk) return 0xDEAD;
    return out.ret;
  }

  uint32_t unregister(uint64_t cookie, uint16_t guest = 0) {
    optee::MsgArg m, out;
    m.cmd = optee::kCmdUnregisterShm;
    m.num_params = 1;
    m.params[0] = {optee::kAttrRmemInput, 0, 0, cookie};
    if (call(m, out, guest) != optee::kReturnOk) return 0xDEAD;
    return out.ret;
  }

  // Opens a session to the built-in service; returns the session id (0 on failure).
  uint32_t open_service(uint16_t guest = 0) {
    optee::MsgArg m, out;
    m.cmd = optee::kCmdOpenSession;
    m.num_params = 2;
    m.params[0] = {optee::kAttrValueInput | optee::kAttrMeta, optee::kServiceUuidA, optee::kServiceUuidB, 0};
    m.params[1] = {optee::kAttrValueInput | optee::kAttrMeta, 0, 0, 0};
    if (call(m, out, guest) != optee::kReturnOk || out.ret != optee::kTeeSuccess) return 0;
    return out.session;
  }

  static std::vector<uint64_t> contiguous(uint64_t first, uint64_t count) {
    std::vector<uint64_t> pages;
    for (uint64_t i = 0; i < count; ++i) pages.push_back(first + i * kPageSize);
    return pages;
  }

  tool::Session session;
  tool::SecureWorld world;
  optee::SmcArgs last;
};

}  // namespace teemm::testing
