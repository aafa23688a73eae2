// The SMC entry (see dispatcher.hpp): fast calls, yielding calls and their messages, RPC resumption,
// guest lifecycle.
#include "optee/dispatcher.hpp"

#include "optee/service.hpp"

namespace teemm::optee {
namespace {

constexpr uint32_t kFunctionsImplemented = 13;
constexpr uint64_t kNoNotifications = 255;  // EXCHANGE_CAPABILITIES a2 without ASYNC_NOTIF

SmcArgs answer(uint64_t a0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0) {
  SmcArgs out;
  out.a[0] = a0;
  out.a[1] = a1;
  out.a[2] = a2;
  out.a[3] = a3;
  return out;
}

constexpr uint32_t low32(uint64_t value) { return static_cast<uint32_t>(value); }

}  // namespace

uint32_t tee_result_for(Error error) {
  switch (error) {
    case Error::kOk: return kTeeSuccess;
    case Error::kOutOfMemory:
    case Error::kNoVirtualSpace:
    case Error::kLimitReached: return kTeeErrorOutOfMemory;
    case Error::kNotFound: return kTeeErrorItemNotFound;
    case Error::kBusy: return kTeeErrorBusy;
    default: return kTeeErrorBadParameters;
  }
}

Status Dispatcher::init(mm::AddressSpace& space, shm::NormalWorldMemory& memory, shm::SecureMappings& mappings,
                        const DispatcherConfig& config, const DispatcherStorage& storage) {
  if (storage.threads == nullptr || storage.thread_count == 0 || storage.sessions == nullptr ||
      storage.page_scratch == nullptr || storage.list_scratch == nullptr ||
      storage.list_scratch_count < shm::PageListScratch::list_pages_for(storage.page_scratch_count))
    return Error::kInvalidArgument;
  if (Status s = guests_.init(storage.guests, storage.guest_capacity, config.virtualization, config.quota); !s)
    return s;
  if (Status s = objects_.init(storage.shm_nodes, storage.shm_node_count); !s) return s;
  space_ = &space;
  memory_ = &memory;
  mappings_ = &mappings;
  config_ = config;
  threads_ = storage.threads;
  thread_count_ = storage.thread_count;
  for (size_t i = 0; i < thread_count_; ++i) threads_[i] = ThreadContext{};
  sessions_ = storage.sessions;
  session_capacity_ = storage.session_capacity;
  for (size_t i = 0; i < session_capacity_; ++i) sessions_[i] = Session{};
  scratch_ = shm::PageListScratch{storage.page_scratch, storage.page_scratch_count, storage.list_scratch,
                                  storage.list_scratch_count};
  return Status();
}

SmcArgs Dispatcher::handle(const SmcArgs& in) {
  LockGuard guard(lock_);
  if (space_ == nullptr) return answer(kReturnNotAvailable);
  // a7 carries the client id; ids are 16 bits, anything larger names no guest.
  const GuestId caller(static_cast<uint16_t>(in.a[7] <= 0xFFFF ? in.a[7] : 0xFFFF));
  if (in.a[7] > 0xFFFF) return answer(kReturnNotAvailable);
  const uint32_t function = low32(in.a[0]);
  if ((function & 0x80000000u) != 0) return fast_call(function, in, caller);
  if (function == kCallWithArg) return call_with_arg(in, caller);
  if (function == kReturnFromRpc) return return_from_rpc(in, caller);
  return answer(kReturnUnknownFunction);
}

bool Dispatcher::caller_is_guest(GuestId caller) const { return guests_.find(caller) != nullptr; }

SmcArgs Dispatcher::fast_call(uint32_t function, const SmcArgs& in, GuestId caller) {
  switch (function) {
    case kCallsCount: return answer(kFunctionsImplemented);
    case kCallsUid: return answer(kApiUid[0], kApiUid[1], kApiUid[2], kApiUid[3]);
    case kCallsRevision: return answer(kApiRevisionMajor, kApiRevisionMinor);
    case kGetOsUuid: return answer(kOsUuid[0], kOsUuid[1], kOsUuid[2], kOsUuid[3]);
    case kGetOsRevision: return answer(kOsRevisionMajor, kOsRevisionMinor, 0);
    case kExchangeCapabilities: return exchange_capabilities(in);
    case kGetShmConfig:
      if (config_.reserved_shm_size == 0 || config_.virtualization) return answer(kReturnNotAvailable);
      return answer(kReturnOk, config_.reserved_shm.value, config_.reserved_shm_size, 1);
    case kEnableShmCache:
      if (!caller_is_guest(caller)) return answer(kReturnNotAvailable);
      shm_cache_enabled_ = true;
      return answer(kReturnOk);
    case kDisableShmCache:
      // teemm keeps no cache of RPC buffers: it is always empty, which ends the driver's loop.
      shm_cache_enabled_ = false;
      return answer(kReturnNotAvailable);
    case kGetThreadCount: return answer(kReturnOk, thread_count_);
    case kVmCreated: return vm_created(in, caller);
    case kVmDestroyed: return vm_destroyed(in, caller);
    default: return answer(kReturnUnknownFunction);
  }
}

SmcArgs Dispatcher::exchange_capabilities(const SmcArgs& in) const {
  if ((in.a[1] & ~kNonSecCapsKnown) != 0) return answer(kReturnNotAvailable);
  uint64_t caps = kSecCapDynamicShm;
  if (config_.virtualization) caps |= kSecCapVirtualization;
  if (config_.reserved_shm_size != 0 && !config_.virtualization) caps |= kSecCapHaveReservedShm;
  return answer(kReturnOk, caps, kNoNotifications, 0);
}

SmcArgs Dispatcher::vm_created(const SmcArgs& in, GuestId caller) {
  if (!config_.virtualization) return answer(kReturnUnknownFunction);
  if (!caller.is_hypervisor() || in.a[1] == 0 || in.a[1] > 0xFFFF) return answer(kReturnNotAvailable);
  const Status s = guests_.create(GuestId(static_cast<uint16_t>(in.a[1])));
  if (s.error() == Error::kOutOfMemory) return answer(kReturnNoMemory);
  return answer(s ? kReturnOk : kReturnNotAvailable);  // a live id is refused, never re-created
}

SmcArgs Dispatcher::vm_destroyed(const SmcArgs& in, GuestId caller) {
  if (!config_.virtualization) return answer(kReturnUnknownFunction);
  if (!caller.is_hypervisor() || in.a[1] == 0 || in.a[1] > 0xFFFF) return answer(kReturnNotAvailable);
  const GuestId guest(static_cast<uint16_t>(in.a[1]));
  if (!caller_is_guest(guest)) return answer(kReturnNotAvailable);
  release_guest_state(guest);
  (void)guests_.destroy(guest);
  return answer(kReturnOk);
}

// Everything a guest holds: suspended calls (and the objects they hold), sessions, registered
// buffers, and any mapping still owned by it.
void Dispatcher::release_guest_state(GuestId guest) {
  for (size_t i = 0; i < thread_count_; ++i) {
    ThreadContext& thread = threads_[i];
    if (thread.state == ThreadState::kFree || thread.guest != guest) continue;
    free_thread(thread);
  }
  for (size_t i = 0; i < session_capacity_; ++i)
    if (sessions_[i].live && sessions_[i].guest == guest) sessions_[i] = Session{};
  // Every mapping the guest owns goes in one pass of the address space (registered buffers and
  // anything else in its name), then its objects in one pass of the registry; its usage record
  // goes with the guest.
  (void)space_->release_guest(guest);
  (void)objects_.erase_all_of(guest);
}

SmcArgs Dispatcher::call_with_arg(const SmcArgs& in, GuestId caller) {
  if (!caller_is_guest(caller)) return answer(kReturnNotAvailable);
  const PhysAddr arg((uint64_t{low32(in.a[1])} << 32) | low32(in.a[2]));
  if ((arg.value & 7) != 0 || !memory_->accessible(arg, kMsgHeaderSize)) return answer(kReturnBadAddress);
  ThreadContext* thread = free_thread_for(caller);
  if (thread == nullptr || !guests_.take_thread(caller)) return answer(kReturnThreadLimit);
  const uint16_t generation = static_cast<uint16_t>(thread->generation + 1);
  *thread = ThreadContext{};
  thread->generation = generation;
  thread->state = ThreadState::kRunning;
  thread->guest = caller;
  thread->arg_pa = arg;
  const Status read = read_message(*memory_, arg, thread->message);
  if (read.error() == Error::kLimitReached) {  // too many parameters: answered in the header alone
    thread->message.set_result(kTeeErrorBadParameters, kOriginTee);
    return complete(*thread);
  }
  if (!read) {
    free_thread(*thread);
    return answer(kReturnBadAddress);
  }
  return run(*thread);
}

SmcArgs Dispatcher::run(ThreadContext& thread) {
  MsgArg& m = thread.message;
  m.set_result(kTeeSuccess, kOriginTee);
  switch (m.cmd) {
    case kCmdRegisterShm: register_shm(thread); break;
    case kCmdUnregisterShm: unregister_shm(thread); break;
    case kCmdOpenSession: open_session(thread); break;
    case kCmdCloseSession: close_session(thread); break;
    case kCmdCancel:
      // Calls run to completion or wait in an RPC the normal world answers: nothing to cancel.
      if (find_session(thread.guest, m.session) == nullptr) m.set_result(kTeeErrorBadParameters, kOriginTee);
      break;
    case kCmdInvokeCommand:
      if (find_session(thread.guest, m.session) == nullptr) {
        m.set_result(kTeeErrorBadParameters, kOriginTee);
        break;
      }
      if (!hold_memrefs(thread)) {
        m.set_result(kTeeErrorBadParameters, kOriginTee);
        break;
      }
      return Service::invoke(*this, thread);
    default: m.set_result(kTeeErrorBadParameters, kOriginTee); break;
  }
  return complete(thread);
}

SmcArgs Dispatcher::complete(ThreadContext& thread) {
  (void)write_message(*memory_, thread.arg_pa, thread.message);
  free_thread(thread);
  return answer(kReturnOk);
}

SmcArgs Dispatcher::suspend(ThreadContext& thread, uint64_t a0, uint64_t a1, uint64_t a2) {
  thread.state = ThreadState::kSuspended;
  return answer(a0, a1, a2, resume_token(thread));
}

void Dispatcher::free_thread(ThreadContext& thread) {
  drop_held(thread);
  if (thread.rpc_pages != 0) guests_.give_buffer(thread.guest, thread.rpc_pages);
  thread.rpc_pages = 0;
  guests_.give_thread(thread.guest);
  thread.state = ThreadState::kFree;
}

uint64_t Dispatcher::resume_token(const ThreadContext& thread) const {
  return (uint64_t{thread.generation} << 16) | static_cast<uint64_t>(&thread - threads_);
}

ThreadContext* Dispatcher::thread_for_token(uint64_t token) {
  const uint64_t index = token & 0xFFFF;
  if (token > 0xFFFFFFFF || index >= thread_count_) return nullptr;
  ThreadContext& thread = threads_[index];
  return thread.generation == (token >> 16) ? &thread : nullptr;
}

SmcArgs Dispatcher::return_from_rpc(const SmcArgs& in, GuestId caller) {
  // Linux hands back a1..a3 (a4:a5 after an ALLOC) and zeroes a6, a7: the token lives in a3.
  ThreadContext* thread = thread_for_token(in.a[3]);
  if (thread == nullptr || thread->state != ThreadState::kSuspended || thread->guest != caller)
    return answer(kReturnResume);
  thread->state = ThreadState::kRunning;
  return Service::resume(*this, *thread, in);
}

// ---- Messages ----------------------------------------------------------------------------------------

void Dispatcher::register_shm(ThreadContext& thread) {
  MsgArg& m = thread.message;
  const GuestId guest = thread.guest;
  if (m.num_params != 1 || m.params[0].attr != (kAttrTmemOutput | kAttrNonContig))
    return m.set_result(kTeeErrorBadParameters, kOriginTee);
  const uint64_t buf_ptr = m.params[0].a, size = m.params[0].b, cookie = m.params[0].c;
  const uint64_t pages = shm::pages_spanned(buf_ptr & kPageMask, size);
  if (size == 0 || pages == 0 || size > shm::ShmRegistry::kMaxSize)
    return m.set_result(kTeeErrorBadParameters, kOriginTee);
  if (objects_.find(guest, cookie)) return m.set_result(kTeeErrorBadParameters, kOriginTee);  // live cookie
  if (objects_.count() >= objects_.capacity()) return m.set_result(kTeeErrorOutOfMemory, kOriginTee);
  if (Status s = guests_.take_buffer(guest, pages); !s) return m.set_result(kTeeErrorOutOfMemory, kOriginTee);
  const Result<shm::PageListResult> list = shm::read_page_list(*memory_, buf_ptr, size, scratch_);
  Result<VirtAddr> va =
      // Buffers are found by cookie, never by PA: the PA index is left out of it (see map_shared).
      list ? space_->map_shared(guest, scratch_.pages, PageCount(list->pages), cookie,
                                mm::AddressSpace::Indexing::kNotIndexed)
           : Result<VirtAddr>(list.error());
  if (va) {
    if (Status s = objects_.insert(shm::ShmObject{guest, cookie, *va, list->offset, size, 0}); !s) {
      (void)space_->unmap_shared(guest, *va);
      va = s.error();
    }
  }
  if (!va) {
    guests_.give_buffer(guest, pages);
    return m.set_result(tee_result_for(va.error() == Error::kNotFound ? Error::kInvalidArgument : va.error()),
                        kOriginTee);
  }
}

void Dispatcher::unregister_shm(ThreadContext& thread) {
  MsgArg& m = thread.message;
  if (m.num_params != 1 || m.params[0].type() != kAttrRmemInput)
    return m.set_result(kTeeErrorBadParameters, kOriginTee);
  const Result<shm::ShmObject> object = objects_.find(thread.guest, m.params[0].c);
  if (!object) return m.set_result(kTeeErrorItemNotFound, kOriginTee);
  // In use by a call in flight (possibly suspended in an RPC): the pages stay mapped and the
  // normal world is told BUSY, never SUCCESS while the secure side can still touch them.
  if (object->users != 0) return m.set_result(kTeeErrorBusy, kOriginTee);
  if (Status s = space_->unmap_shared(thread.guest, object->va); !s)
    return m.set_result(tee_result_for(s.error()), kOriginTee);
  (void)objects_.erase(thread.guest, object->cookie);
  guests_.give_buffer(thread.guest, object->pages());
}

void Dispatcher::open_session(ThreadContext& thread) {
  MsgArg& m = thread.message;
  constexpr uint64_t kMetaValue = kAttrValueInput | kAttrMeta;
  if (m.num_params < 2 || m.params[0].attr != kMetaValue || m.params[1].attr != kMetaValue)
    return m.set_result(kTeeErrorBadParameters, kOriginTee);
  if (!Service::is_service_uuid(m.params[0].a, m.params[0].b)) return m.set_result(kTeeErrorItemNotFound, kOriginTee);
  for (size_t i = 0; i < session_capacity_; ++i) {
    if (sessions_[i].live) continue;
    sessions_[i] = Session{true, thread.guest, next_session_++};
    if (next_session_ == 0) next_session_ = 1;
    m.session = sessions_[i].id;
    return m.set_result(kTeeSuccess, kOriginTrustedApp);
  }
  m.set_result(kTeeErrorOutOfMemory, kOriginTee);
}

void Dispatcher::close_session(ThreadContext& thread) {
  Session* session = find_session(thread.guest, thread.message.session);
  if (session == nullptr) return thread.message.set_result(kTeeErrorBadParameters, kOriginTee);
  // A call on the session still suspended in an RPC keeps it open: the session cannot go under it.
  for (size_t i = 0; i < thread_count_; ++i) {
    const ThreadContext& other = threads_[i];
    if (&other != &thread && other.state != ThreadState::kFree && other.guest == thread.guest &&
        other.message.cmd == kCmdInvokeCommand && other.message.session == session->id)
      return thread.message.set_result(kTeeErrorBusy, kOriginTee);
  }
  *session = Session{};
}

// A free thread for a yielding call of `caller`, keeping one free for every other live guest that
// has none in flight: a guest that fills every thread with calls suspended in RPCs must not leave
// another guest, with nothing in flight to wait for, with ETHREAD_LIMIT forever (Linux's driver
// waits for one of its own calls to end). Holds while there are at least as many threads as guests.
ThreadContext* Dispatcher::free_thread_for(GuestId caller) {
  ThreadContext* chosen = nullptr;
  size_t free = 0;
  for (size_t i = 0; i < thread_count_; ++i) {
    if (threads_[i].state != ThreadState::kFree) continue;
    ++free;
    if (chosen == nullptr) chosen = &threads_[i];
  }
  const virt::Guest* self = guests_.find(caller);
  if (chosen == nullptr || self == nullptr || self->usage.threads == 0) return chosen;
  size_t reserved = 0;  // idle guests other than the caller
  guests_.for_each_live([&](const virt::Guest& g) { reserved += g.id != caller && g.usage.threads == 0; });
  return free > reserved ? chosen : nullptr;
}

Session* Dispatcher::find_session(GuestId guest, uint32_t id) {
  for (size_t i = 0; i < session_capacity_; ++i)
    if (sessions_[i].live && sessions_[i].guest == guest && sessions_[i].id == id) return &sessions_[i];
  return nullptr;
}

// Every registered-memory parameter names a live object of the caller, within its bounds; the call
// holds each until it completes (or its guest dies), so none can be unregistered under it.
bool Dispatcher::hold_memrefs(ThreadContext& thread) {
  const MsgArg& m = thread.message;
  for (uint32_t i = 0; i < m.num_params; ++i) {
    const uint64_t type = m.params[i].type();
    if (type < kAttrRmemInput || type > kAttrRmemInout) continue;
    const Result<shm::ShmObject> object = objects_.find(thread.guest, m.params[i].c);
    const uint64_t offs = m.params[i].a, size = m.params[i].b;
    if (!object || offs > object->size || size > object->size - offs ||
        !objects_.acquire(thread.guest, object->cookie)) {
      drop_held(thread);
      return false;
    }
    thread.held[thread.held_count++] = object->cookie;
  }
  return true;
}

void Dispatcher::drop_held(ThreadContext& thread) {
  for (uint8_t i = 0; i < thread.held_count; ++i) (void)objects_.release(thread.guest, thread.held[i]);
  thread.held_count = 0;
}

// ---- State -------------------------------------------------------------------------------------------

Status Dispatcher::set_quota(GuestId guest, const virt::Quota& quota) {
  LockGuard guard(lock_);
  return guests_.set_quota(guest, quota);
}

size_t Dispatcher::sessions_of(GuestId guest) const {
  LockGuard guard(lock_);
  size_t n = 0;
  for (size_t i = 0; i < session_capacity_; ++i) n += sessions_[i].live && sessions_[i].guest == guest;
  return n;
}

size_t Dispatcher::threads_in_state(ThreadState state) const {
  LockGuard guard(lock_);
  size_t n = 0;
  for (size_t i = 0; i < thread_count_; ++i) n += threads_[i].state == state;
  return n;
}

bool Dispatcher::audit() const {
  LockGuard guard(lock_);
  if (space_ == nullptr || !objects_.audit() || !space_->audit()) return false;
  bool ok = true;
  size_t objects_seen = 0;
  guests_.for_each_live([&](const virt::Guest& guest) {
    virt::Usage expected;
    objects_.for_each_of(guest.id, [&](const shm::ShmObject& object) {
      ++objects_seen;
      ++expected.buffers;
      expected.pages += object.pages();
      const Result<mm::VaRange> range = space_->shm_range(object.va);
      ok = ok && range && range->start == object.va && range->owner == guest.id && range->backing == object.cookie &&
           range->size.bytes == object.pages() * kPageSize;
    });
    uint16_t holders = 0;
    for (size_t i = 0; i < thread_count_; ++i) {
      const ThreadContext& t = threads_[i];
      if (t.state == ThreadState::kFree || t.guest != guest.id) continue;
      ++expected.threads;
      if (t.rpc_pages != 0) {
        ++expected.buffers;
        expected.pages += t.rpc_pages;
      }
      holders = static_cast<uint16_t>(holders + t.held_count);
    }
    uint64_t users = 0;
    objects_.for_each_of(guest.id, [&](const shm::ShmObject& object) { users += object.users; });
    ok = ok && expected == guest.usage && users == holders;
  });
  for (size_t i = 0; i < session_capacity_; ++i)
    ok = ok && (!sessions_[i].live || guests_.find(sessions_[i].guest) != nullptr);
  return ok && objects_seen == objects_.count();
}

}  // namespace teemm::optee
