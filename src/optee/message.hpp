// optee/message: struct optee_msg_arg, copied between normal-world memory and a secure copy.
//
// A message is read once: header and parameters are copied into a MsgArg in secure memory, and the
// count of parameters used is the copy's, checked against kMaxParams before the parameters are
// read. Everything after that works on the copy; writing back sends the copy's header and
// parameters, so nothing the normal world changed in between is ever believed.
#pragma once

#include <cstdint>

#include "base/address.hpp"
#include "base/result.hpp"
#include "optee/abi.hpp"
#include "shm/normal_world_memory.hpp"

namespace teemm::optee {

struct MsgParam {
  uint64_t attr = 0;
  uint64_t a = 0;  // value.a, tmem.buf_ptr, rmem.offs
  uint64_t b = 0;  // value.b, tmem.size, rmem.size
  uint64_t c = 0;  // value.c, tmem.shm_ref, rmem.shm_ref

  uint64_t type() const { return attr & kAttrTypeMask; }
};
static_assert(sizeof(MsgParam) == kMsgParamSize);

// Linux sends at most 6 (2 meta + 4 for an open, 6 for an invoke); RPC messages use 1.
inline constexpr uint32_t kMaxParams = 6;

struct MsgArg {
  uint32_t cmd = 0;
  uint32_t func = 0;
  uint32_t session = 0;
  uint32_t cancel_id = 0;
  uint32_t pad = 0;
  uint32_t ret = 0;
  uint32_t ret_origin = 0;
  uint32_t num_params = 0;
  MsgParam params[kMaxParams];

  void set_result(uint32_t result, uint32_t origin) {
    ret = result;
    ret_origin = origin;
  }
};
static_assert(sizeof(MsgArg) == kMsgHeaderSize + kMaxParams * kMsgParamSize);

constexpr uint64_t message_bytes(uint32_t num_params) { return kMsgHeaderSize + uint64_t{num_params} * kMsgParamSize; }

// Errors: kForbiddenMemory (not in non-secure DDR), kLimitReached (more than kMaxParams
// parameters: the header is still in `out`, num_params included, so the caller can answer).
Status read_message(const shm::NormalWorldMemory& memory, PhysAddr pa, MsgArg& out);
// Writes the header and the copy's num_params parameters back.
Status write_message(shm::NormalWorldMemory& memory, PhysAddr pa, const MsgArg& message);

}  // namespace teemm::optee
