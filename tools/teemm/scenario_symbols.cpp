// Names a scenario may use for numbers (ABI constants, OR-able), the names shown beside answers,
// and UUID text (see scenario.hpp and docs/SCENARIOS.md).
#include <cctype>
#include <string>

#include "optee/abi.hpp"
#include "optee/service.hpp"
#include "scenario.hpp"

namespace teemm::tool::sim {
namespace {

// ---- ABI names ------------------------------------------------------------------------------------
struct Symbol {
  const char* name;
  uint64_t value;
};

constexpr Symbol kFunctions[] = {
    {"CALLS_COUNT", optee::kCallsCount},
    {"CALLS_UID", optee::kCallsUid},
    {"CALLS_REVISION", optee::kCallsRevision},
    {"GET_OS_UUID", optee::kGetOsUuid},
    {"GET_OS_REVISION", optee::kGetOsRevision},
    {"GET_SHM_CONFIG", optee::kGetShmConfig},
    {"EXCHANGE_CAPABILITIES", optee::kExchangeCapabilities},
    {"DISABLE_SHM_CACHE", optee::kDisableShmCache},
    {"ENABLE_SHM_CACHE", optee::kEnableShmCache},
    {"VM_CREATED", optee::kVmCreated},
    {"VM_DESTROYED", optee::kVmDestroyed},
    {"GET_THREAD_COUNT", optee::kGetThreadCount},
    {"RETURN_FROM_RPC", optee::kReturnFromRpc},
    {"CALL_WITH_ARG", optee::kCallWithArg},
};
constexpr Symbol kReturnCodes[] = {
    {"RETURN_OK", optee::kReturnOk},
    {"RETURN_ETHREAD_LIMIT", optee::kReturnThreadLimit},
    {"RETURN_EBUSY", optee::kReturnBusy},
    {"RETURN_ERESUME", optee::kReturnResume},
    {"RETURN_EBADADDR", optee::kReturnBadAddress},
    {"RETURN_EBADCMD", optee::kReturnBadCommand},
    {"RETURN_ENOMEM", optee::kReturnNoMemory},
    {"RETURN_ENOTAVAIL", optee::kReturnNotAvailable},
    {"RETURN_UNKNOWN_FUNCTION", optee::kReturnUnknownFunction},
    {"RETURN_RPC_ALLOC", optee::kRpcAlloc},
    {"RETURN_RPC_FREE", optee::kRpcFree},
    {"RETURN_RPC_FOREIGN_INTR", optee::kRpcForeignIntr},
    {"RETURN_RPC_CMD", optee::kRpcCmd},
};
constexpr Symbol kTeeResults[] = {
    {"TEE_SUCCESS", optee::kTeeSuccess},
    {"TEE_ERROR_GENERIC", optee::kTeeErrorGeneric},
    {"TEE_ERROR_BAD_PARAMETERS", optee::kTeeErrorBadParameters},
    {"TEE_ERROR_ITEM_NOT_FOUND", optee::kTeeErrorItemNotFound},
    {"TEE_ERROR_NOT_SUPPORTED", optee::kTeeErrorNotSupported},
    {"TEE_ERROR_OUT_OF_MEMORY", optee::kTeeErrorOutOfMemory},
    {"TEE_ERROR_BUSY", optee::kTeeErrorBusy},
};
constexpr Symbol kOrigins[] = {
    {"TEE_ORIGIN_API", optee::kOriginApi},
    {"TEE_ORIGIN_COMMS", optee::kOriginComms},
    {"TEE_ORIGIN_TEE", optee::kOriginTee},
    {"TEE_ORIGIN_TRUSTED_APP", optee::kOriginTrustedApp},
};
constexpr Symbol kOthers[] = {
    // Message commands.
    {"CMD_OPEN_SESSION", optee::kCmdOpenSession},
    {"CMD_INVOKE_COMMAND", optee::kCmdInvokeCommand},
    {"CMD_CLOSE_SESSION", optee::kCmdCloseSession},
    {"CMD_CANCEL", optee::kCmdCancel},
    {"CMD_REGISTER_SHM", optee::kCmdRegisterShm},
    {"CMD_UNREGISTER_SHM", optee::kCmdUnregisterShm},
    // Parameter attributes.
    {"NONE", optee::kAttrNone},
    {"VALUE_INPUT", optee::kAttrValueInput},
    {"VALUE_OUTPUT", optee::kAttrValueOutput},
    {"VALUE_INOUT", optee::kAttrValueInout},
    {"RMEM_INPUT", optee::kAttrRmemInput},
    {"RMEM_OUTPUT", optee::kAttrRmemOutput},
    {"RMEM_INOUT", optee::kAttrRmemInout},
    {"TMEM_INPUT", optee::kAttrTmemInput},
    {"TMEM_OUTPUT", optee::kAttrTmemOutput},
    {"TMEM_INOUT", optee::kAttrTmemInout},
    {"META", optee::kAttrMeta},
    {"NONCONTIG", optee::kAttrNonContig},
    // Capabilities.
    {"SEC_CAP_HAVE_RESERVED_SHM", optee::kSecCapHaveReservedShm},
    {"SEC_CAP_DYNAMIC_SHM", optee::kSecCapDynamicShm},
    {"SEC_CAP_VIRTUALIZATION", optee::kSecCapVirtualization},
    {"NSEC_CAP_UNIPROCESSOR", optee::kNonSecCapUniprocessor},
    // The built-in service's commands.
    {"SERVICE_CHECKSUM", optee::kServiceChecksum},
    {"SERVICE_FILL", optee::kServiceFill},
    {"SERVICE_RPC_ALLOC", optee::kServiceRpcAlloc},
    {"SERVICE_RPC_CMD", optee::kServiceRpcCmd},
};

template <size_t N>
const char* name_in(const Symbol (&table)[N], uint64_t value) {
  for (const Symbol& s : table)
    if (s.value == value) return s.name;
  return nullptr;
}

}  // namespace

std::optional<uint64_t> symbol_value(const std::string& name) {
  for (const Symbol& s : kFunctions)
    if (name == s.name) return s.value;
  for (const Symbol& s : kReturnCodes)
    if (name == s.name) return s.value;
  for (const Symbol& s : kTeeResults)
    if (name == s.name) return s.value;
  for (const Symbol& s : kOrigins)
    if (name == s.name) return s.value;
  for (const Symbol& s : kOthers)
    if (name == s.name) return s.value;
  return std::nullopt;
}

const char* return_code_name(uint64_t a0) { return name_in(kReturnCodes, a0); }
const char* tee_result_name(uint64_t ret) { return name_in(kTeeResults, ret); }
const char* origin_name(uint64_t origin) { return name_in(kOrigins, origin); }

bool parse_uuid(const std::string& text, uint64_t* a, uint64_t* b) {
  // 8-4-4-4-12 hex digits; the 16 bytes in the order written (RFC 4122), each half little-endian.
  if (text.size() != 36) return false;
  unsigned char bytes[16];
  size_t n = 0;
  for (size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
      ++i;
      continue;
    }
    if (!std::isxdigit(static_cast<unsigned char>(text[i])) || !std::isxdigit(static_cast<unsigned char>(text[i + 1])))
      return false;
    bytes[n++] = static_cast<unsigned char>(std::stoul(text.substr(i, 2), nullptr, 16));
    i += 2;
  }
  *a = *b = 0;
  for (int i = 7; i >= 0; --i) {
    *a = (*a << 8) | bytes[i];
    *b = (*b << 8) | bytes[8 + i];
  }
  return true;
}

}  // namespace teemm::tool::sim
