// optee/abi: the numbers of OP-TEE's SMC and message ABI that teemm speaks (optee_os optee_smc.h /
// optee_msg.h, Linux drivers/tee/optee/; see ../shared/reference/optee-abi.md). Values only: no
// behaviour lives here.
#pragma once

#include <cstdint>

namespace teemm::optee {

// ---- Function IDs (a0; SMC32: only the low 32 bits count) ---------------------------------------
inline constexpr uint32_t kCallsCount = 0xBF00FF00;
inline constexpr uint32_t kCallsUid = 0xBF00FF01;
inline constexpr uint32_t kCallsRevision = 0xBF00FF03;
inline constexpr uint32_t kGetOsUuid = 0xB2000000;
inline constexpr uint32_t kGetOsRevision = 0xB2000001;
inline constexpr uint32_t kGetShmConfig = 0xB2000007;
inline constexpr uint32_t kExchangeCapabilities = 0xB2000009;
inline constexpr uint32_t kDisableShmCache = 0xB200000A;
inline constexpr uint32_t kEnableShmCache = 0xB200000B;
inline constexpr uint32_t kVmCreated = 0xB200000D;
inline constexpr uint32_t kVmDestroyed = 0xB200000E;
inline constexpr uint32_t kGetThreadCount = 0xB200000F;
inline constexpr uint32_t kReturnFromRpc = 0x32000003;
inline constexpr uint32_t kCallWithArg = 0x32000004;

// ---- SMC return codes (a0) --------------------------------------------------------------------------
inline constexpr uint32_t kReturnOk = 0;
inline constexpr uint32_t kReturnThreadLimit = 1;
inline constexpr uint32_t kReturnBusy = 2;
inline constexpr uint32_t kReturnResume = 3;
inline constexpr uint32_t kReturnBadAddress = 4;
inline constexpr uint32_t kReturnBadCommand = 5;
inline constexpr uint32_t kReturnNoMemory = 6;
inline constexpr uint32_t kReturnNotAvailable = 7;
inline constexpr uint32_t kReturnUnknownFunction = 0xFFFFFFFF;

// RPC requests: a0 = kRpcPrefix | function.
inline constexpr uint32_t kRpcPrefix = 0xFFFF0000;
inline constexpr uint32_t kRpcAlloc = 0xFFFF0000;        // a1 = size; resume: a1:a2 = PA, a4:a5 = cookie
inline constexpr uint32_t kRpcFree = 0xFFFF0002;         // a1:a2 = cookie
inline constexpr uint32_t kRpcForeignIntr = 0xFFFF0004;  //
inline constexpr uint32_t kRpcCmd = 0xFFFF0005;          // a1:a2 = cookie of the buffer holding the message
constexpr bool is_rpc_request(uint32_t a0) { return (a0 & 0xFFFF0000) == kRpcPrefix && a0 != kReturnUnknownFunction; }

// ---- UIDs and revisions -------------------------------------------------------------------------------
inline constexpr uint32_t kApiUid[4] = {0x384fb3e0, 0xe7f811e3, 0xaf630002, 0xa5d5c51b};
inline constexpr uint32_t kApiRevisionMajor = 2;
inline constexpr uint32_t kApiRevisionMinor = 0;
inline constexpr uint32_t kOsUuid[4] = {0x486178e0, 0xe7f811e3, 0xbc5e0002, 0xa5d5c51b};
inline constexpr uint32_t kOsRevisionMajor = 0;  // teemm's own version
inline constexpr uint32_t kOsRevisionMinor = 1;

// ---- Capabilities (EXCHANGE_CAPABILITIES) -------------------------------------------------------------
inline constexpr uint64_t kSecCapHaveReservedShm = 1u << 0;
inline constexpr uint64_t kSecCapDynamicShm = 1u << 2;
inline constexpr uint64_t kSecCapVirtualization = 1u << 3;
inline constexpr uint64_t kNonSecCapUniprocessor = 1u << 0;
inline constexpr uint64_t kNonSecCapsKnown = kNonSecCapUniprocessor;

// ---- Messages (struct optee_msg_arg) --------------------------------------------------------------------
inline constexpr uint32_t kCmdOpenSession = 0;
inline constexpr uint32_t kCmdInvokeCommand = 1;
inline constexpr uint32_t kCmdCloseSession = 2;
inline constexpr uint32_t kCmdCancel = 3;
inline constexpr uint32_t kCmdRegisterShm = 4;
inline constexpr uint32_t kCmdUnregisterShm = 5;

inline constexpr uint64_t kAttrTypeMask = 0xFF;
inline constexpr uint64_t kAttrNone = 0;
inline constexpr uint64_t kAttrValueInput = 1;
inline constexpr uint64_t kAttrValueOutput = 2;
inline constexpr uint64_t kAttrValueInout = 3;
inline constexpr uint64_t kAttrRmemInput = 5;
inline constexpr uint64_t kAttrRmemOutput = 6;
inline constexpr uint64_t kAttrRmemInout = 7;
inline constexpr uint64_t kAttrTmemInput = 9;
inline constexpr uint64_t kAttrTmemOutput = 0xA;
inline constexpr uint64_t kAttrTmemInout = 0xB;
inline constexpr uint64_t kAttrMeta = 1u << 8;
inline constexpr uint64_t kAttrNonContig = 1u << 9;

// RPC message commands (secure → normal world).
inline constexpr uint32_t kRpcCmdShmAlloc = 6;
inline constexpr uint32_t kRpcCmdShmFree = 7;
inline constexpr uint64_t kRpcShmTypeKernel = 1;

// TEE result codes (optee_msg_arg.ret) and origins.
inline constexpr uint32_t kTeeSuccess = 0;
inline constexpr uint32_t kTeeErrorGeneric = 0xFFFF0000;
inline constexpr uint32_t kTeeErrorBadParameters = 0xFFFF0006;
inline constexpr uint32_t kTeeErrorItemNotFound = 0xFFFF0008;
inline constexpr uint32_t kTeeErrorNotSupported = 0xFFFF000A;
inline constexpr uint32_t kTeeErrorOutOfMemory = 0xFFFF000C;
inline constexpr uint32_t kTeeErrorBusy = 0xFFFF000D;
inline constexpr uint32_t kOriginApi = 1;
inline constexpr uint32_t kOriginComms = 2;
inline constexpr uint32_t kOriginTee = 3;
inline constexpr uint32_t kOriginTrustedApp = 4;

// Layout: a 32-byte header, then 32-byte parameters.
inline constexpr uint64_t kMsgHeaderSize = 32;
inline constexpr uint64_t kMsgParamSize = 32;

// Non-contiguous page lists: 511 page addresses per 4 KiB list page, then the next list page's PA.
inline constexpr uint64_t kPagesPerListPage = 511;

}  // namespace teemm::optee
