// firmware/qemu-virt-linux/sel1_core.cpp: the secure world of the Linux firmware: teemm's core at
// secure EL1, on its own translation tables, serving OP-TEE's SMC ABI (optee::Dispatcher over
// mm::AddressSpace) to the normal world.
//
// Cold entry (MMU off): the qemu-virt platform's regions are registered and laid out
// (qemu_virt::kRegions, 39-bit VA, VA = PA for the static regions), the static map is mapped into
// a Stage1Table of the EL1&0 regime whose pages come from a pool in TEE data, and the MMU is turned
// on with those tables. One more mapping, outside every region and reservation of the map, is the
// firmware's door to normal-world memory (NormalWorldMemory): all of non-secure DRAM, read-write,
// never executable, at kNsWindowVa. The core reads SMC arguments, page lists and RPC messages
// through it, only after NormalWorldMemory's own check (non-secure DDR only). Shared memory the
// normal world registers is mapped by mm::AddressSpace into the SHM reservation and reached by the
// built-in service through those mappings only (DirectMappings: the CPU's AT instruction must find
// a non-secure, writable (for writes) translation for every page, then a plain load or store).
//
// Every SMC entry starts on a fresh stack; the dispatcher keeps suspended calls in its thread
// contexts. After every yielding call that completes, one line on the secure UART says what it
// was, its result, what is live and whether Dispatcher::audit() holds; the final report (PSCI
// SYSTEM_OFF / SYSTEM_RESET) says whether everything was given back.
#include <cstddef>
#include <cstdint>
#include <new>

#include "arch/arm64/registers.hpp"
#include "arch/arm64/tlb_maintenance.hpp"
#include "arch/arm64/translation_table.hpp"
#include "console.hpp"
#include "linux_fw_abi.h"
#include "mm/address_space.hpp"
#include "mm/memory_map.hpp"
#include "mm/phys_mem_registry.hpp"
#include "optee/abi.hpp"
#include "optee/dispatcher.hpp"
#include "platform/builtin/qemu_virt.hpp"
#include "runtime.hpp"
#include "shm/normal_world_memory.hpp"
#include "shm/secure_mappings.hpp"
#include "sysreg.hpp"
#include "trap_frame.hpp"

extern "C" {
using InitFunction = void (*)();
extern InitFunction __init_array_start[], __init_array_end[];
extern char __text_start[], __text_end[], __ro_start[], __ro_end[], __data_start[], __bss_end[];
extern char __sel1_stack_bottom[], __sel1_stack_top[];
}

namespace teemm::fw::linux_fw {
namespace {

namespace qv = platform::qemu_virt;
using optee::SmcArgs;

constexpr unsigned kVaBits = qv::kVaBits;
constexpr unsigned kPaBits = 40;  // TCR_EL1.IPS: QEMU's cortex-a57 has a 44-bit PA range; DRAM ends at 1 TiB
// The door to normal-world memory: all of DRAM at this VA (256 GiB), outside the 39-bit map's
// regions and reservations (checked at boot).
constexpr uint64_t kNsWindowVa = uint64_t{1} << 38;

// ---- Storage (all of it in TEE data) ----------------------------------------------------------------
constexpr size_t kRegionCapacity = 32;
constexpr size_t kPoolPages = 96;  // static map ~12 pages; the SHM and IO reservations' tables
constexpr size_t kThreads = 4;
constexpr size_t kSessions = 16;
constexpr size_t kObjects = 128;                    // registered buffers
constexpr size_t kMaxBufferPages = 4096;            // the longest page list: 16 MiB per buffer
constexpr size_t kShmRanges = kObjects + kThreads;  // registered buffers + RPC buffers in use
constexpr size_t kIoRanges = 8;
constexpr size_t kPaNodes = 256;
constexpr size_t kPolicyRanges = 64;

mm::Region g_regions[kRegionCapacity];
mm::MapEntry g_entries[kRegionCapacity];
arm64::TablePage g_pool_pages[kPoolPages];
uint16_t g_live_counts[kPoolPages];

mm::VaAllocator::Node g_shm_nodes[mm::VaAllocator::nodes_needed(kShmRanges)];
mm::VaAllocator::Node g_io_nodes[mm::VaAllocator::nodes_needed(kIoRanges)];
mm::PaIndex::Node g_pa_nodes[kPaNodes];
mm::PolicyRange g_policy[kPolicyRanges];
PhysAddr g_map_scratch[kMaxBufferPages];

virt::Guest g_guests[1];
optee::ThreadContext g_threads[kThreads];
optee::Session g_sessions[kSessions];
shm::ShmRegistry::Node g_object_nodes[kObjects];
PhysAddr g_page_scratch[kMaxBufferPages];
PhysAddr g_list_scratch[shm::PageListScratch::list_pages_for(kMaxBufferPages)];

// Objects with constructors are built in place at the cold entry (after .bss is zeroed).
alignas(mm::PhysMemRegistry) unsigned char g_registry_storage[sizeof(mm::PhysMemRegistry)];
alignas(mm::MemoryMap) unsigned char g_map_storage[sizeof(mm::MemoryMap)];
alignas(arm64::TablePool) unsigned char g_pool_storage[sizeof(arm64::TablePool)];
mm::PhysMemRegistry* g_registry = nullptr;
mm::MemoryMap* g_map = nullptr;
arm64::TablePool* g_pool = nullptr;
arm64::Stage1Table g_table;
arm64::AArch64TlbMaintenance g_tlb(arm64::TlbRegime::kEl1);
mm::AddressSpace g_space;
optee::Dispatcher g_dispatcher;

// ---- The core's interfaces on bare metal --------------------------------------------------------

// Normal-world memory through the window. NormalWorldMemory has checked [pa, pa + size) is
// non-secure DDR (which the window covers) before any raw access.
class WindowMemory final : public shm::NormalWorldMemory {
 public:
  explicit WindowMemory(const mm::PhysMemRegistry& registry) : NormalWorldMemory(registry) {}

 protected:
  void raw_read(uint64_t pa, void* out, size_t size) const override { __builtin_memcpy(out, window(pa, size), size); }
  void raw_write(uint64_t pa, const void* in, size_t size) override { __builtin_memcpy(window(pa, size), in, size); }

 private:
  static void* window(uint64_t pa, size_t size) {
    if (pa < qv::kDramBase || size > qv::kDramSize || pa - qv::kDramBase > qv::kDramSize - size)
      panic("normal-world access 0x%lx+0x%zx outside the window", pa, size);
    return reinterpret_cast<void*>(kNsWindowVa + (pa - qv::kDramBase));
  }
};

// Shared memory through the secure world's own mapping of it: for each page the CPU translates the
// VA (AT S1E1R / S1E1W at secure EL1, the core's tables); only a non-secure translation with the
// access allowed is used, by a plain load or store at that VA.
class DirectMappings final : public shm::SecureMappings {
 public:
  Status read(VirtAddr va, void* out, size_t size) override {
    auto* bytes = static_cast<unsigned char*>(out);
    return each_page(va, size, false, [&](uint64_t at, size_t done, size_t n) {
      __builtin_memcpy(bytes + done, reinterpret_cast<const void*>(at), n);
    });
  }
  Status write(VirtAddr va, const void* in, size_t size) override {
    const auto* bytes = static_cast<const unsigned char*>(in);
    return each_page(va, size, true, [&](uint64_t at, size_t done, size_t n) {
#if defined(TEEMM_LINUX_FW_TEST_DROP_WRITES)
      // Test-only image (teemm_linux_fw_drop_writes): the service believes it wrote; the normal
      // world must notice that nothing arrived.
      (void)at, (void)bytes, (void)done, (void)n;
#else
      __builtin_memcpy(reinterpret_cast<void*>(at), bytes + done, n);
#endif
    });
  }
  uint64_t pages_checked() const { return pages_checked_; }

 private:
  template <typename Access>
  Status each_page(VirtAddr va, size_t size, bool write, Access&& access) {
    if (size == 0) return Status();
    if (va.value > UINT64_MAX - size) return Error::kAddressOverflow;
    for (size_t done = 0; done < size;) {
      const uint64_t at = va.value + done;
      const size_t in_page = kPageSize - (at & kPageMask);
      const size_t n = size - done < in_page ? size - done : in_page;
      const uint64_t par = write ? at_s1e1w(at) : at_s1e1r(at);
      if (par_faulted(par) || (par & kParNS) == 0) return Error::kNotMapped;
      ++pages_checked_;
      access(at, done, n);
      done += n;
    }
    return Status();
  }
  uint64_t pages_checked_ = 0;
};

alignas(WindowMemory) unsigned char g_memory_storage[sizeof(WindowMemory)];
WindowMemory* g_memory = nullptr;
DirectMappings g_mappings;

// ---- Log ----------------------------------------------------------------------------------------
uint64_t g_fast_calls = 0;
uint64_t g_yielding_calls = 0;
uint64_t g_completed = 0;
uint64_t g_audits = 0;
uint64_t g_audit_failures = 0;
size_t g_pool_after_boot = 0;  // table pages the static map and the window took

// Calls suspended in an RPC: their message address, by resume token (a3), so that the line written
// when they complete can show the message.
struct Suspended {
  bool used = false;
  uint64_t token = 0;
  uint64_t arg_pa = 0;
  uint64_t number = 0;
  uint64_t secure_us = 0;  // time spent in the dispatcher for this call so far
};
Suspended g_suspended[kThreads * 2];

uint64_t now_us() { return read_cntpct_el0() * 1000000 / read_cntfrq_el0(); }

const char* command_name(uint32_t cmd) {
  switch (cmd) {
    case optee::kCmdOpenSession: return "OPEN_SESSION";
    case optee::kCmdInvokeCommand: return "INVOKE_COMMAND";
    case optee::kCmdCloseSession: return "CLOSE_SESSION";
    case optee::kCmdCancel: return "CANCEL";
    case optee::kCmdRegisterShm: return "REGISTER_SHM";
    case optee::kCmdUnregisterShm: return "UNREGISTER_SHM";
    default: return "unknown command";
  }
}

const char* rpc_name(uint32_t a0) {
  switch (a0) {
    case optee::kRpcAlloc: return "ALLOC";
    case optee::kRpcFree: return "FREE";
    case optee::kRpcForeignIntr: return "FOREIGN_INTR";
    case optee::kRpcCmd: return "CMD";
    default: return "?";
  }
}

constexpr uint32_t low32(uint64_t v) { return static_cast<uint32_t>(v); }

struct Live {
  size_t objects = 0;
  size_t sessions = 0;
  size_t threads = 0;
  size_t shm_ranges = 0;
  uint64_t shm_bytes = 0;
  size_t io_ranges = 0;
  bool audit = false;
};

Live live_state() {
  Live l;
  l.objects = g_dispatcher.objects().count();
  l.sessions = g_dispatcher.sessions_of(GuestId(0));
  l.threads = kThreads - g_dispatcher.threads_in_state(optee::ThreadState::kFree);
  const mm::ReservationUsage shm = g_space.shm_usage();
  l.shm_ranges = shm.ranges;
  l.shm_bytes = shm.in_use.bytes;
  l.io_ranges = g_space.io_usage().ranges;
  l.audit = g_dispatcher.audit();
  ++g_audits;
  if (!l.audit) ++g_audit_failures;
  return l;
}

void log_completed(uint64_t number, uint64_t arg_pa, uint64_t secure_us, const SmcArgs& out) {
  ++g_completed;
  optee::MsgArg m;
  const bool readable = static_cast<bool>(g_memory->read(PhysAddr(arg_pa), &m, optee::message_bytes(1)));
  const Live l = live_state();
  char what[96];
  if (!readable) {
    snprintf(what, sizeof(what), "message at 0x%lx unreadable", arg_pa);
  } else if (m.cmd == optee::kCmdRegisterShm) {
    snprintf(what, sizeof(what), "REGISTER_SHM %lu bytes at +0x%lx", m.params[0].b, m.params[0].a & kPageMask);
  } else if (m.cmd == optee::kCmdUnregisterShm) {
    snprintf(what, sizeof(what), "UNREGISTER_SHM");
  } else if (m.cmd == optee::kCmdInvokeCommand) {
    snprintf(what, sizeof(what), "INVOKE_COMMAND session %u func %u", m.session, m.func);
  } else {
    snprintf(what, sizeof(what), "%s session %u", command_name(m.cmd), m.session);
  }
  printf(
      "teemm: call %lu %s -> a0 0x%lx ret 0x%08x origin %u | live: %zu objects, %zu sessions, %zu threads, "
      "%zu shm ranges (%lu KiB), %zu io ranges; audit %s; %lu us in the dispatcher\n",
      number, what, out.a[0], readable ? m.ret : 0, readable ? m.ret_origin : 0, l.objects, l.sessions, l.threads,
      l.shm_ranges, l.shm_bytes / 1024, l.io_ranges, l.audit ? "ok" : "FAILED", secure_us);
}

void log_yielding(const SmcArgs& in, const SmcArgs& out, uint64_t us) {
  const uint32_t fid = low32(in.a[0]);
  uint64_t number = 0;
  uint64_t arg_pa = 0;
  uint64_t secure_us = us;
  if (fid == optee::kCallWithArg) {
    number = ++g_yielding_calls;
    arg_pa = (uint64_t{low32(in.a[1])} << 32) | low32(in.a[2]);
  } else {  // RETURN_FROM_RPC: the call it resumes
    for (Suspended& s : g_suspended) {
      if (s.used && s.token == in.a[3]) {
        number = s.number;
        arg_pa = s.arg_pa;
        secure_us += s.secure_us;
        s.used = false;
        break;
      }
    }
    if (number == 0) {
      printf("teemm: RETURN_FROM_RPC with an unknown token 0x%lx -> a0 0x%lx\n", in.a[3], out.a[0]);
      return;
    }
  }
  const uint32_t a0 = low32(out.a[0]);
  if (optee::is_rpc_request(a0)) {
    for (Suspended& s : g_suspended) {
      if (!s.used) {
        s = Suspended{true, out.a[3], arg_pa, number, secure_us};
        break;
      }
    }
    printf("teemm: call %lu suspended: RPC %s (a1 0x%lx a2 0x%lx)\n", number, rpc_name(a0), out.a[1], out.a[2]);
    return;
  }
  if (a0 != optee::kReturnOk) {
    printf("teemm: call %lu -> a0 0x%x (not run)\n", number, a0);
    return;
  }
  log_completed(number, arg_pa, secure_us, out);
}

// ---- Boot ---------------------------------------------------------------------------------------------

arm64::MappingAttributes window_attributes() {
  arm64::MappingAttributes a;
  a.memory = arm64::MemoryKind::kNormalWriteBack;
  a.privileged = {true, true, false};
  a.non_secure = true;
  return a;
}

void print_map() {
  printf("teemm: static map (%zu entries, %u-bit VA, VA = PA):\n", g_map->count(), kVaBits);
  for (const mm::MapEntry& e : *g_map) {
    if (e.is_va_reservation())
      printf("teemm:   %-12s %-12s VA 0x%010lx size 0x%lx (reservation)\n", e.name, mm::memory_type_name(e.type),
             e.va.value, e.size.bytes);
    else
      printf("teemm:   %-12s %-12s VA 0x%010lx size 0x%lx -> PA 0x%lx\n", e.name, mm::memory_type_name(e.type),
             e.va.value, e.size.bytes, e.pa.value);
  }
  printf("teemm:   %-12s %-12s VA 0x%010lx size 0x%lx -> PA 0x%lx (firmware: the normal-world door)\n", "ns-window",
         "-", kNsWindowVa, qv::kDramSize, qv::kDramBase);
}

uint64_t cold_init() {
  for (InitFunction* f = __init_array_start; f != __init_array_end; ++f) (*f)();
  console_set_uart(qv::kSecureUartBase);
  printf("teemm: secure world (teemm core at S-EL%u): text 0x%lx..0x%lx, rodata ..0x%lx, data/bss 0x%lx..0x%lx\n",
         current_el(), reinterpret_cast<uint64_t>(__text_start), reinterpret_cast<uint64_t>(__text_end),
         reinterpret_cast<uint64_t>(__ro_end), reinterpret_cast<uint64_t>(__data_start),
         reinterpret_cast<uint64_t>(__bss_end));

  g_registry = new (g_registry_storage) mm::PhysMemRegistry(g_regions, kRegionCapacity);
  g_map = new (g_map_storage) mm::MemoryMap(g_entries, kRegionCapacity);
  const mm::Refusal registered = g_registry->add_all(qv::kRegions, qv::kRegionCount);
  if (!registered.ok()) panic("registry refused %s: %s", registered.region, error_name(registered.error));
  const mm::Refusal laid_out = g_map->build(*g_registry, mm::LayoutOptions{kVaBits, 0});
  if (!laid_out.ok()) panic("layout refused %s: %s", laid_out.region, error_name(laid_out.error));
  g_pool = new (g_pool_storage)
      arm64::TablePool(g_pool_pages, g_live_counts, kPoolPages, PhysAddr(reinterpret_cast<uint64_t>(g_pool_pages)));
  Result<arm64::Stage1Table> table =
      arm64::Stage1Table::create(*g_pool, kVaBits, arm64::TranslationRegime::kEl1And0, kPaBits);
  if (!table) panic("Stage1Table::create: %s", error_name(table.error()));
  g_table = table.value();
  if (Status s = mm::map_static_regions(*g_map, g_table); !s) panic("map_static_regions: %s", error_name(s.error()));
  for (const mm::MapEntry& e : *g_map)
    if (e.va.value < kNsWindowVa + qv::kDramSize && kNsWindowVa < e.va.value + e.size.bytes)
      panic("the normal-world window meets %s", e.name);
  if (Status s = g_table.map(VirtAddr(kNsWindowVa), PhysAddr(qv::kDramBase), Size(qv::kDramSize), window_attributes());
      !s)
    panic("mapping the normal-world window: %s", error_name(s.error()));
  print_map();

  // The tables were written with the MMU and caches off: nothing stale may hide them.
  dcache_clean_invalidate_range(reinterpret_cast<uint64_t>(g_pool_pages), sizeof(g_pool_pages));
  enable_mmu_el1(arm64::kMairValue, arm64::tcr_el1_value(kVaBits, kPaBits), g_table.raw().root().value);
  const arm64::TableStatistics& st = g_table.raw().statistics();
  printf("teemm: MMU on at S-EL1: TTBR0_EL1 0x%lx, TCR_EL1 0x%lx, MAIR_EL1 0x%lx; %lu table pages (pool %zu/%zu)\n",
         read_ttbr0_el1(), read_tcr_el1(), read_mair_el1(), st.table_pages, g_pool->used(), g_pool->capacity());

  g_table.raw().set_tlb_maintenance(&g_tlb);
  mm::AddressSpaceStorage s;
  s.shm_nodes = g_shm_nodes;
  s.shm_node_count = sizeof(g_shm_nodes) / sizeof(g_shm_nodes[0]);
  s.io_nodes = g_io_nodes;
  s.io_node_count = sizeof(g_io_nodes) / sizeof(g_io_nodes[0]);
  s.pa_nodes = g_pa_nodes;
  s.pa_node_count = kPaNodes;
  s.policy_ranges = g_policy;
  s.policy_range_count = mm::PagePolicy::ranges_needed(*g_registry);
  if (s.policy_range_count > kPolicyRanges) panic("policy needs %zu ranges", s.policy_range_count);
  s.page_scratch = g_map_scratch;
  s.page_scratch_count = kMaxBufferPages;
  if (Status st2 = g_space.init(g_table, *g_map, *g_registry, s); !st2)
    panic("AddressSpace::init: %s", error_name(st2.error()));

  g_memory = new (g_memory_storage) WindowMemory(*g_registry);
  optee::DispatcherConfig config;  // no virtualization: guest 0 is the normal world; no reserved SHM
  optee::DispatcherStorage d;
  d.guests = g_guests;
  d.guest_capacity = 1;
  d.threads = g_threads;
  d.thread_count = kThreads;
  d.sessions = g_sessions;
  d.session_capacity = kSessions;
  d.shm_nodes = g_object_nodes;
  d.shm_node_count = kObjects;
  d.page_scratch = g_page_scratch;
  d.page_scratch_count = kMaxBufferPages;
  d.list_scratch = g_list_scratch;
  d.list_scratch_count = sizeof(g_list_scratch) / sizeof(g_list_scratch[0]);
  if (Status st3 = g_dispatcher.init(g_space, *g_memory, g_mappings, config, d); !st3)
    panic("Dispatcher::init: %s", error_name(st3.error()));
  if (!g_dispatcher.audit()) panic("the fresh dispatcher fails its audit");
  g_pool_after_boot = g_pool->used();
  const mm::ReservationUsage shm = g_space.shm_usage();
#if defined(TEEMM_LINUX_FW_TEST_DROP_WRITES)
  printf("teemm: TEST BUILD (TEEMM_LINUX_FW_TEST_DROP_WRITES): shared-memory writes are dropped\n");
#endif
  printf("teemm: OP-TEE ABI ready: %zu threads, %zu sessions, %zu buffers of up to %zu pages; SHM VA 0x%lx..0x%lx\n",
         kThreads, kSessions, kObjects, kMaxBufferPages, shm.base.value, shm.base.value + shm.size.bytes);
  return 0;
}

}  // namespace
}  // namespace teemm::fw::linux_fw

namespace teemm::fw {
// runtime.hpp's panic and exit (the shared libc.cpp calls them): report, then stop the secure
// world; the monitor powers the machine off.
void panic(const char* fmt, ...) {
  printf("\nteemm: PANIC: ");
  va_list args;
  va_start(args, fmt);
  vprintf(fmt, args);
  va_end(args);
  printf("\n");
  asm volatile("smc %0" : : "i"(SEL1_SMC_PANIC) : "memory");
  for (;;) {
  }
}
void exit(int code) { panic("exit(%d)", code); }
}  // namespace teemm::fw

using namespace teemm;
using namespace teemm::fw::linux_fw;

extern "C" {

uint64_t sel1_cold_init() { return cold_init(); }

void sel1_handle_smc(uint64_t* regs) {
  SmcArgs in;
  for (unsigned i = 0; i < 8; ++i) in.a[i] = regs[i];
  const uint64_t start = now_us();
  const SmcArgs out = g_dispatcher.handle(in);
  const uint64_t us = now_us() - start;
  for (unsigned i = 0; i < 4; ++i) regs[i] = out.a[i];
  const uint32_t fid = low32(in.a[0]);
  if ((fid & 0x80000000u) != 0) {
    ++g_fast_calls;
    fw::printf("teemm: fast call 0x%08x (a1 0x%lx) -> 0x%lx 0x%lx 0x%lx 0x%lx\n", fid, in.a[1], out.a[0], out.a[1],
               out.a[2], out.a[3]);
  } else if (fid == optee::kCallWithArg || fid == optee::kReturnFromRpc) {
    log_yielding(in, out, us);
  } else {
    fw::printf("teemm: unknown function 0x%08x -> 0x%lx\n", fid, out.a[0]);
  }
}

uint64_t sel1_final_report() {
  const Live l = live_state();
  // Nothing live, every audit held, and the table pool back where the boot left it (every table
  // page the dynamic mappings took was given back).
  const bool clean = l.objects == 0 && l.sessions == 0 && l.threads == 0 && l.shm_ranges == 0 && l.io_ranges == 0 &&
                     l.audit && g_audit_failures == 0 && g_pool->used() == g_pool_after_boot;
  fw::printf(
      "teemm: final: %zu objects, %zu sessions, %zu threads, %zu shm ranges, %zu io ranges; %lu fast calls, %lu "
      "yielding calls (%lu completed); %lu audits, %lu failed; %lu AT-checked shared-memory accesses; table "
      "pool %zu/%zu pages (%zu after boot)\n",
      l.objects, l.sessions, l.threads, l.shm_ranges, l.io_ranges, g_fast_calls, g_yielding_calls, g_completed,
      g_audits, g_audit_failures, g_mappings.pages_checked(), g_pool->used(), g_pool->capacity(), g_pool_after_boot);
  fw::printf("teemm: final state %s\n", clean ? "CLEAN" : "NOT CLEAN");
  return clean ? 0 : 1;
}

[[noreturn]] void sel1_exception(TrapFrame* frame) {
  print_trap_frame("teemm (secure EL1)", *frame);
  fw::panic("exception at secure EL1");
}

}  // extern "C"
