// The built-in service (see service.hpp).
#include "optee/service.hpp"

namespace teemm::optee {
namespace {

enum Step : uint8_t { kStart = 0, kAwaitAlloc = 1, kAwaitFree = 2 };
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
    case kServiceRpcAlloc: {
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
      thread.step = kAwaitAlloc;
      return d.suspend(thread, kRpcAlloc, size, 0);
    }
    default: m.set_result(kTeeErrorNotSupported, kOriginTrustedApp); return d.complete(thread);
  }
}

SmcArgs Service::resume(Dispatcher& d, ThreadContext& thread, const SmcArgs& in) {
  MsgArg& m = thread.message;
  if (thread.step == kAwaitFree) {
    m.params[0].a = thread.result_a;
    m.params[0].b = thread.rpc_size;
    m.set_result(thread.pending_ret, kOriginTrustedApp);
    return d.complete(thread);
  }
  // kAwaitAlloc: a1:a2 = PA of the buffer, a4:a5 = its cookie; 0:0 when the normal world had none.
  const uint64_t pa = (uint64_t{low32(in.a[1])} << 32) | low32(in.a[2]);
  thread.rpc_cookie = (uint64_t{low32(in.a[4])} << 32) | low32(in.a[5]);
  if (pa == 0) {
    m.set_result(kTeeErrorOutOfMemory, kOriginTee);
    return d.complete(thread);
  }
  // The buffer is contiguous: its page list is made here, in secure scratch, and checked page by
  // page by the address space like any other.
  for (uint64_t i = 0; i < thread.rpc_pages; ++i) d.scratch_.pages[i] = PhysAddr(pa + i * kPageSize);
  const Result<VirtAddr> va =
      (pa & kPageMask) != 0
          ? Result<VirtAddr>(Error::kMisaligned)
          : d.space_->map_shared(thread.guest, d.scratch_.pages, PageCount(thread.rpc_pages), thread.rpc_cookie);
  thread.pending_ret = tee_result_for(va.error());
  if (va) {
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
  thread.step = kAwaitFree;
  return d.suspend(thread, kRpcFree, thread.rpc_cookie >> 32, thread.rpc_cookie & 0xFFFFFFFF);
}

}  // namespace teemm::optee
