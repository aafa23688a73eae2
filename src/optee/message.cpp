// Message copies (see message.hpp).
#include "optee/message.hpp"

namespace teemm::optee {

Status read_message(const shm::NormalWorldMemory& memory, PhysAddr pa, MsgArg& out) {
  out = MsgArg{};
  if (Status s = memory.read(pa, &out, kMsgHeaderSize); !s) return s;
  if (out.num_params > kMaxParams) return Error::kLimitReached;
  if (out.num_params == 0) return Status();
  return memory.read(pa + Size(kMsgHeaderSize), out.params, out.num_params * kMsgParamSize);
}

Status write_message(shm::NormalWorldMemory& memory, PhysAddr pa, const MsgArg& message) {
  const uint32_t params = message.num_params <= kMaxParams ? message.num_params : 0;
  return memory.write(pa, &message, message_bytes(params));
}

}  // namespace teemm::optee
