// The built-in service (see service.hpp).
#include "optee/service.hpp"

namespace teemm::optee {
namespace {

enum Step : uint8_t {
  kStart,
  kAwaitAlloc,     // RPC_ALLOC: the buffer
  kAwaitFree,      // RPC_FREE sent: complete
  kAwaitMessage,   // RPC_ALLOC: the page RPC CMD messages travel in
  kAwaitShmAlloc,  // CMD SHM_ALLOC sent
  kAwaitShmFree,   // CMD SHM_FREE sent
};
constexpr size_t kChunk = 256;

constexpr uint32_t low32(uint64_t value) { return static_cast<uint32_t>(value); }
bool is_memref(const MsgParam& p) { return p.type() >= kAttrRmemInput && p.type() <= kAttrRmemInout; }
bool is_input(uint64_t type) {
  return type == kAttrRmemInput || type == kAttrRmemInout || type == kAttrValueInput || type == kAttrValueInout;
}
bool is_output(uint64_t type) {
  return type == kAttrRmemOutput || type == kAttrRmemInout || type == kAttrValueOutput || type == kAttrValueInout;
}

// The VA of a held memref parameter's bytes (the dispatcher checked the bounds and holds it).
Result<VirtAddr> memref_va(const shm::ShmRegistry& objects, GuestId guest, const MsgParam& p) {
  const Result<shm::ShmObject> object = objects.find(guest, p.c);
  if (!object) return object.error();
  return object->buffer() + Size(p.a);
}

Status fill(shm::SecureMappings& mappings, VirtAddr va, uint64_t size, uint64_t seed) {
  unsigned char chunk[kChunk];
  for (uint64_t done = 0; done < size;) {
    const uint64_t n = size - done < kChunk ? size - done : kChunk;
    for (uint64_t i = 0; i < n; ++i) chunk[i] = pattern_byte(seed, done + i);
    if (Status s = mappings.write(va + Size(done), chunk, n); !s) return s;
    done += n;
  }
  return Status();
}

Result<uint64_t> checksum(shm::SecureMappings& mappings, VirtAddr va, uint64_t size) {
  unsigned char chunk[kChunk];
  uint64_t hash = kFnvOffset;
  for (uint64_t done = 0; done < size;) {
    const uint64_t n = size - done < kChunk ? size - done : kChunk;
    if (Status s = mappings.read(va + Size(done), chunk, n); !s) return s.error();
    hash = fnv1a(hash, chunk, n);
    done += n;
  }
  return hash;
}

// The page list of a physically contiguous buffer, in secure scratch (the caller bounds `pages`).
void fill_contiguous(const shm::PageListScratch& scratch, uint64_t pa, uint64_t pages) {
  for (uint64_t i = 0; i < pages; ++i) scratch.pages[i] = PhysAddr(pa + i * kPageSize);
}

uint64_t expected_pattern_hash(uint64_t seed, uint64_t size) {
  uint64_t hash = kFnvOffset;
  for (uint64_t i = 0; i < size; ++i) {
    const unsigned char byte = pattern_byte(seed, i);
    hash = fnv1a(hash, &byte, 1);
  }
  return hash;
}

}  // namespace

SmcArgs Service::invoke(Dispatcher& d, ThreadContext& thread) {
  MsgArg& m = thread.message;
  const auto bad = [&] {
    m.set_result(kTeeErrorBadParameters, kOriginTrustedApp);
    return d.complete(thread);
  };
  switch (m.func) {
    case kServiceChecksum: {
      if (m.num_params < 2 || !is_memref(m.params[0]) || !is_input(m.params[0].type()) ||
          (m.params[1].type() != kAttrValueOutput && m.params[1].type() != kAttrValueInout))
        return bad();
      const Result<VirtAddr> va = memref_va(d.objects_, thread.guest, m.params[0]);
      const Result<uint64_t> hash = va ? checksum(*d.mappings_, *va, m.params[0].b) : Result<uint64_t>(va.error());
      if (!hash) return bad();
      m.params[1].a = *hash;
      m.params[1].b = m.params[0].b;
      m.set_result(kTeeSuccess, kOriginTrustedApp);
      return d.complete(thread);
    }
    case kServiceFill: {
      if (m.num_params < 2 || !is_memref(m.params[0]) || !is_output(m.params[0].type()) ||
          !is_input(m.params[1].type()) || is_memref(m.params[1]))
        return bad();
      const Result<VirtAddr> va = memref_va(d.objects_, thread.guest, m.params[0]);
      if (!va || !fill(*d.mappings_, *va, m.params[0].b, m.params[1].a)) return bad();
      m.set_result(kTeeSuccess, kOriginTrustedApp);
      return d.complete(thread);
    }
    case kServiceRpcAlloc:
    case kServiceRpcCmd: {
      if (m.num_params < 1 || m.params[0].type() != kAttrValueInout) return bad();
      if (m.num_params >= 2 && !(is_memref(m.params[1]) && is_output(m.params[1].type()))) return bad();
      const uint64_t size = m.params[0].a;
      const uint64_t pages = (size + kPageMask) >> kPageShift;
      if (size == 0 || size > kServiceMaxRpcSize || pages > d.scratch_.page_capacity) return bad();
      if (!d.guests_.take_buffer(thread.guest, pages)) {
        m.set_result(kTeeErrorOutOfMemory, kOriginTee);
        return d.complete(thread);
      }
      thread.rpc_pages = pages;
      thread.rpc_size = size;
      thread.step = m.func == kServiceRpcAlloc ? kAwaitAlloc : kAwaitMessage;
      return d.suspend(thread, kRpcAlloc, m.func == kServiceRpcAlloc ? size : message_bytes(1), 0);
    }
    default: m.set_result(kTeeErrorNotSupported, kOriginTrustedApp); return d.complete(thread);
  }
}

// Maps the normal world's buffer (pages in d.scratch_), fills it, reads it back, copies the bytes to
// the optional memref, unmaps it: the outcome goes to thread.pending_ret and thread.result_a.
void Service::use_buffer(Dispatcher& d, ThreadContext& thread, uint64_t pages, uint64_t cookie) {
  MsgArg& m = thread.message;
  const Result<VirtAddr> va = d.space_->map_shared(thread.guest, d.scratch_.pages, PageCount(pages), cookie);
  thread.pending_ret = tee_result_for(va.error());
  if (!va) return;
  const uint64_t seed = thread.rpc_size;
  const Result<uint64_t> hash = fill(*d.mappings_, *va, thread.rpc_size, seed)
                                    ? checksum(*d.mappings_, *va, thread.rpc_size)
                                    : Result<uint64_t>(Error::kNotMapped);
  thread.result_a = hash ? *hash : 0;
  if (!hash || *hash != expected_pattern_hash(seed, thread.rpc_size)) thread.pending_ret = kTeeErrorGeneric;
  if (thread.pending_ret == kTeeSuccess && m.num_params >= 2) {
    const uint64_t copy = m.params[1].b < thread.rpc_size ? m.params[1].b : thread.rpc_size;
    const Result<VirtAddr> out = memref_va(d.objects_, thread.guest, m.params[1]);
    if (!out || !fill(*d.mappings_, *out, copy, seed)) thread.pending_ret = kTeeErrorBadParameters;
    m.params[1].b = copy;
  }
  (void)d.space_->unmap_shared(thread.guest, *va);  // before the normal world may free it
}

SmcArgs Service::resume(Dispatcher& d, ThreadContext& thread, const SmcArgs& in) {
  MsgArg& m = thread.message;
  // After RPC_ALLOC: a1:a2 = PA of the buffer, a4:a5 = its cookie; 0:0 when the normal world had none.
  const uint64_t pa = (uint64_t{low32(in.a[1])} << 32) | low32(in.a[2]);
  const uint64_t cookie = (uint64_t{low32(in.a[4])} << 32) | low32(in.a[5]);
  switch (thread.step) {
    case kAwaitAlloc:
      if (pa == 0) {
        m.set_result(kTeeErrorOutOfMemory, kOriginTee);
        return d.complete(thread);
      }
      thread.rpc_cookie = cookie;
      // Contiguous: the page list is made here, in secure scratch, and checked by the address space.
      fill_contiguous(d.scratch_, pa, thread.rpc_pages);
      if ((pa & kPageMask) != 0)
        thread.pending_ret = kTeeErrorBadParameters;
      else
        use_buffer(d, thread, thread.rpc_pages, cookie);
      thread.step = kAwaitFree;
      return d.suspend(thread, kRpcFree, thread.rpc_cookie >> 32, thread.rpc_cookie & 0xFFFFFFFF);
    case kAwaitMessage:
      if (pa == 0) {
        m.set_result(kTeeErrorOutOfMemory, kOriginTee);
        return d.complete(thread);
      }
      thread.rpc_message_pa = pa;
      thread.rpc_message_cookie = cookie;
      return send_command(d, thread, kRpcCmdShmAlloc, kRpcShmTypeKernel, thread.rpc_size, kAwaitShmAlloc);
    case kAwaitShmAlloc: return shm_allocated(d, thread);
    case kAwaitShmFree: return free_message(d, thread);
    default:  // kAwaitFree
      m.params[0].a = thread.result_a;
      m.params[0].b = thread.rpc_size;
      m.set_result(thread.pending_ret, kOriginTrustedApp);
      return d.complete(thread);
  }
}

// Writes an RPC CMD message (one VALUE_INPUT parameter) into the message page and asks the normal
// world to run it. A message page the normal world may not have given us ends the call.
SmcArgs Service::send_command(Dispatcher& d, ThreadContext& thread, uint32_t command, uint64_t a, uint64_t b,
                              uint8_t next_step) {
  MsgArg rpc;
  rpc.cmd = command;
  rpc.num_params = 1;
  rpc.params[0] = MsgParam{kAttrValueInput, a, b, 0};
  if (!write_message(*d.memory_, PhysAddr(thread.rpc_message_pa), rpc)) {
    thread.pending_ret = kTeeErrorBadParameters;
    return free_message(d, thread);
  }
  thread.step = next_step;
  return d.suspend(thread, kRpcCmd, thread.rpc_message_cookie >> 32, thread.rpc_message_cookie & 0xFFFFFFFF);
}

// The normal world's answer to SHM_ALLOC, read once: a contiguous buffer or a page list.
SmcArgs Service::shm_allocated(Dispatcher& d, ThreadContext& thread) {
  MsgArg answer;
  const Status read = read_message(*d.memory_, PhysAddr(thread.rpc_message_pa), answer);
  const MsgParam& p = answer.params[0];
  const bool contiguous = p.attr == kAttrTmemOutput, listed = p.attr == (kAttrTmemOutput | kAttrNonContig);
  if (!read || answer.ret != kTeeSuccess || answer.num_params != 1 || (!contiguous && !listed) ||
      p.b < thread.rpc_size || p.a == 0) {
    thread.pending_ret = read && answer.ret != kTeeSuccess ? kTeeErrorOutOfMemory : kTeeErrorBadParameters;
    return free_message(d, thread);  // nothing was allocated that we could name
  }
  thread.rpc_cookie = p.c;
  uint64_t pages = 0;
  if (contiguous) {
    pages = (p.b + kPageMask) >> kPageShift;
    if ((p.a & kPageMask) != 0 || pages > d.scratch_.page_capacity) pages = 0;
    fill_contiguous(d.scratch_, p.a, pages);
  } else {
    const Result<shm::PageListResult> list = shm::read_page_list(*d.memory_, p.a, p.b, d.scratch_);
    pages = list && list->offset == 0 ? list->pages : 0;
  }
  if (pages == 0)
    thread.pending_ret = kTeeErrorBadParameters;
  else
    use_buffer(d, thread, pages, thread.rpc_cookie);
  return send_command(d, thread, kRpcCmdShmFree, kRpcShmTypeKernel, thread.rpc_cookie, kAwaitShmFree);
}

SmcArgs Service::free_message(Dispatcher& d, ThreadContext& thread) {
  thread.step = kAwaitFree;
  return d.suspend(thread, kRpcFree, thread.rpc_message_cookie >> 32, thread.rpc_message_cookie & 0xFFFFFFFF);
}

}  // namespace teemm::optee
