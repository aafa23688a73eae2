// optee/service: teemm's built-in service, a pseudo trusted application that really uses the shared
// memory the normal world hands over, through the secure world's own mappings.
//
// UUID 5f8c2d10-3b7e-4d2a-9c61-7ee3317e5eed (on the wire, OPEN_SESSION's first meta parameter:
// a = 0x2a4d7e3b102d8c5f, b = 0xed5e7e31e37e619c). Commands (INVOKE_COMMAND func):
//   0 CHECKSUM   p0 memref input (RMEM), p1 value output: a = FNV-1a 64 of the bytes, b = their count
//   1 FILL       p0 memref output (RMEM), p1 value input a = seed: byte i becomes (seed + i) & 0xFF
//   2 RPC_ALLOC  p0 value inout, a = size (1..1 MiB): asks the normal world for a buffer with
//                RETURN_RPC_ALLOC, maps it, fills it as FILL would with seed = size, reads it back,
//                unmaps it and gives it back with RETURN_RPC_FREE; out a = FNV-1a 64 of what was read
//                back, b = size. An optional p1 memref output receives the same bytes (and is held
//                by the call across both RPCs).
//   3 RPC_CMD    the same, with the buffer obtained by RPC CMD messages: RETURN_RPC_ALLOC of a
//                page for the message, CMD SHM_ALLOC (kernel type; the answer may be contiguous,
//                attr 0xA, or a page list, 0x20A), the work, CMD SHM_FREE, RETURN_RPC_FREE of the
//                message page.
// Bad parameters answer TEE_ERROR_BAD_PARAMETERS with origin TRUSTED_APP; unknown commands
// TEE_ERROR_NOT_SUPPORTED.
#pragma once

#include <cstdint>

#include "optee/dispatcher.hpp"

namespace teemm::optee {

inline constexpr uint64_t kServiceUuidA = 0x2a4d7e3b102d8c5f;
inline constexpr uint64_t kServiceUuidB = 0xed5e7e31e37e619c;
inline constexpr uint32_t kServiceChecksum = 0;
inline constexpr uint32_t kServiceFill = 1;
inline constexpr uint32_t kServiceRpcAlloc = 2;
inline constexpr uint32_t kServiceRpcCmd = 3;
inline constexpr uint64_t kServiceMaxRpcSize = uint64_t{1} << 20;

// FNV-1a, 64 bits: what CHECKSUM answers.
inline constexpr uint64_t kFnvOffset = 0xcbf29ce484222325;
inline constexpr uint64_t kFnvPrime = 0x100000001b3;
constexpr uint64_t fnv1a(uint64_t hash, const unsigned char* bytes, uint64_t count) {
  for (uint64_t i = 0; i < count; ++i) hash = (hash ^ bytes[i]) * kFnvPrime;
  return hash;
}
constexpr unsigned char pattern_byte(uint64_t seed, uint64_t index) {
  return static_cast<unsigned char>((seed + index) & 0xFF);
}

class Service {
 public:
  static bool is_service_uuid(uint64_t a, uint64_t b) { return a == kServiceUuidA && b == kServiceUuidB; }
  // Runs INVOKE_COMMAND on `thread` (a session of the caller; memrefs already held): completes it,
  // or suspends it in an RPC.
  static SmcArgs invoke(Dispatcher& d, ThreadContext& thread);
  // Continues a suspended call with the normal world's answer.
  static SmcArgs resume(Dispatcher& d, ThreadContext& thread, const SmcArgs& in);

 private:
  static void use_buffer(Dispatcher& d, ThreadContext& thread, uint64_t pages, uint64_t cookie);
  static SmcArgs send_command(Dispatcher& d, ThreadContext& thread, uint32_t command, uint64_t a, uint64_t b,
                              uint8_t next_step);
  static SmcArgs shm_allocated(Dispatcher& d, ThreadContext& thread);
  static SmcArgs free_message(Dispatcher& d, ThreadContext& thread);
};

}  // namespace teemm::optee
