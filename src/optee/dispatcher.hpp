// optee/dispatcher: the secure world's SMC entry — OP-TEE's SMC and message ABI on top of the
// memory manager.
//
// Owns the calls a normal world (or a hypervisor and its guests) makes: fast calls answered at
// once, yielding calls (CALL_WITH_ARG) that read a message from normal-world memory and run it on
// one of a fixed number of thread contexts, and RETURN_FROM_RPC, which resumes a thread that
// suspended to ask the normal world for memory. Messages register and unregister shared memory
// (page lists read once into secure scratch, every page checked by mm::AddressSpace) and reach
// the built-in service (optee/service.hpp). Every object is owned by the guest in a7 and only that
// guest may name it; VM_DESTROYED releases everything a guest held, suspended calls included.
//
// All storage is the caller's (DispatcherStorage). One lock serialises every call.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/guest_id.hpp"
#include "base/result.hpp"
#include "base/spinlock.hpp"
#include "mm/address_space.hpp"
#include "optee/abi.hpp"
#include "optee/message.hpp"
#include "shm/normal_world_memory.hpp"
#include "shm/page_list.hpp"
#include "shm/secure_mappings.hpp"
#include "shm/shm_registry.hpp"
#include "virt/guest_table.hpp"

namespace teemm::optee {

struct SmcArgs {
  uint64_t a[8] = {};
};

struct DispatcherConfig {
  bool virtualization = false;  // a7 names guests created by the hypervisor (a7 = 0)
  virt::Quota quota;            // each guest's, until set_quota changes it
  // A reserved (static) shared-memory carve-out to offer with HAVE_RESERVED_SHM / GET_SHM_CONFIG
  // when virtualization is off; none when the size is 0.
  PhysAddr reserved_shm;
  uint64_t reserved_shm_size = 0;
};

// What a yielding call carries between an RPC request and its resumption.
enum class ThreadState : uint8_t { kFree, kRunning, kSuspended };

struct ThreadContext {
  ThreadState state = ThreadState::kFree;
  uint16_t generation = 0;  // part of the resume token, so a stale token cannot resume a new call
  GuestId guest;
  PhysAddr arg_pa;
  MsgArg message;
  uint64_t held[kMaxParams] = {};  // cookies of objects this call holds (users + 1 each)
  uint8_t held_count = 0;
  // The service's continuation across RPCs.
  uint8_t step = 0;
  uint64_t rpc_size = 0;
  uint64_t rpc_cookie = 0;
  uint64_t rpc_message_pa = 0;  // the buffer RPC CMD messages travel in, and its cookie
  uint64_t rpc_message_cookie = 0;
  uint64_t rpc_pages = 0;  // quota pages taken for the RPC buffer
  uint32_t pending_ret = 0;
  uint64_t result_a = 0;
};

struct Session {
  bool live = false;
  GuestId guest;
  uint32_t id = 0;
};

struct DispatcherStorage {
  virt::Guest* guests = nullptr;
  size_t guest_capacity = 0;
  ThreadContext* threads = nullptr;  // GET_THREAD_COUNT answers this many
  size_t thread_count = 0;
  Session* sessions = nullptr;
  size_t session_capacity = 0;
  shm::ShmRegistry::Node* shm_nodes = nullptr;
  size_t shm_node_count = 0;
  // Secure scratch for one page list (the most pages one buffer may have) and its list pages.
  PhysAddr* page_scratch = nullptr;
  size_t page_scratch_count = 0;
  PhysAddr* list_scratch = nullptr;
  size_t list_scratch_count = 0;  // PageListScratch::list_pages_for(page_scratch_count)
};

class Dispatcher {
 public:
  Dispatcher() = default;
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Errors: kInvalidArgument (missing storage), others from the parts.
  Status init(mm::AddressSpace& space, shm::NormalWorldMemory& memory, shm::SecureMappings& mappings,
              const DispatcherConfig& config, const DispatcherStorage& storage);

  // One SMC: a0..a7 in (a7 = the calling guest), a0..a3 out (a4..a7 as the ABI leaves them: 0).
  SmcArgs handle(const SmcArgs& in);

  // ---- State, for the replayer, tests and diagnostics ------------------------------------------
  Status set_quota(GuestId guest, const virt::Quota& quota);
  const virt::GuestTable& guests() const { return guests_; }
  const shm::ShmRegistry& objects() const { return objects_; }
  size_t sessions_of(GuestId guest) const;
  size_t threads_in_state(ThreadState state) const;
  const mm::AddressSpace& address_space() const { return *space_; }
  // The registry, guests' usage, sessions and threads agree with each other and with the address
  // space (every object mapped, owned by its guest, with its pages counted), and the address
  // space's own audit holds.
  bool audit() const;

 private:
  SmcArgs fast_call(uint32_t function, const SmcArgs& in, GuestId caller);
  SmcArgs exchange_capabilities(const SmcArgs& in) const;
  SmcArgs vm_created(const SmcArgs& in, GuestId caller);
  SmcArgs vm_destroyed(const SmcArgs& in, GuestId caller);
  SmcArgs call_with_arg(const SmcArgs& in, GuestId caller);
  SmcArgs return_from_rpc(const SmcArgs& in, GuestId caller);
  bool caller_is_guest(GuestId caller) const;

  // Running a message on a thread: until it completes or suspends for an RPC.
  SmcArgs run(ThreadContext& thread);
  SmcArgs complete(ThreadContext& thread);
  SmcArgs suspend(ThreadContext& thread, uint64_t a0, uint64_t a1, uint64_t a2);
  void register_shm(ThreadContext& thread);
  void unregister_shm(ThreadContext& thread);
  void open_session(ThreadContext& thread);
  void close_session(ThreadContext& thread);
  bool hold_memrefs(ThreadContext& thread);
  void drop_held(ThreadContext& thread);
  Session* find_session(GuestId guest, uint32_t id);
  void free_thread(ThreadContext& thread);
  ThreadContext* free_thread_for(GuestId caller);
  uint64_t resume_token(const ThreadContext& thread) const;
  ThreadContext* thread_for_token(uint64_t token);
  void release_guest_state(GuestId guest);

  friend class Service;

  mutable SpinLock lock_;
  mm::AddressSpace* space_ = nullptr;
  shm::NormalWorldMemory* memory_ = nullptr;
  shm::SecureMappings* mappings_ = nullptr;
  DispatcherConfig config_;
  virt::GuestTable guests_;
  shm::ShmRegistry objects_;
  ThreadContext* threads_ = nullptr;
  size_t thread_count_ = 0;
  Session* sessions_ = nullptr;
  size_t session_capacity_ = 0;
  uint32_t next_session_ = 1;
  shm::PageListScratch scratch_;
  bool shm_cache_enabled_ = false;
};

// TEE result for a core error (what a message's ret says when the memory manager refused).
uint32_t tee_result_for(Error error);

}  // namespace teemm::optee
