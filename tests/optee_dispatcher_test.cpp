// The SMC dispatcher through a simulated normal world: every fast call, the probe Linux's driver
// performs, registration and its error paths, the built-in service, RPC, threads and guests.
#include <gtest/gtest.h>

#include "support/normal_world.hpp"

namespace teemm::optee {
namespace {

using testing::NormalWorld;

TEST(Dispatcher, FastCallsAnswerAsTheAbiSays) {
  NormalWorld nw;
  ASSERT_TRUE(nw.world.ok()) << nw.world.error();
  SmcArgs r = nw.smc(kCallsUid);
  EXPECT_EQ(r.a[0], 0x384fb3e0u);
  EXPECT_EQ(r.a[1], 0xe7f811e3u);
  EXPECT_EQ(r.a[2], 0xaf630002u);
  EXPECT_EQ(r.a[3], 0xa5d5c51bu);
  r = nw.smc(kCallsRevision);
  EXPECT_EQ(r.a[0], 2u);
  EXPECT_EQ(r.a[1], 0u);
  EXPECT_EQ(nw.smc(kGetOsUuid).a[0], 0x486178e0u);
  EXPECT_EQ(nw.smc(kGetOsRevision).a[0], kOsRevisionMajor);
  r = nw.smc(kExchangeCapabilities, kNonSecCapUniprocessor);
  EXPECT_EQ(r.a[0], kReturnOk);
  EXPECT_EQ(r.a[1], kSecCapDynamicShm);  // no reserved SHM configured, no virtualization
  EXPECT_EQ(nw.smc(kExchangeCapabilities, 1u << 5).a[0], kReturnNotAvailable);  // an unknown normal-world bit
  EXPECT_EQ(nw.smc(kGetShmConfig).a[0], kReturnNotAvailable);
  EXPECT_EQ(nw.smc(kEnableShmCache).a[0], kReturnOk);
  EXPECT_EQ(nw.smc(kDisableShmCache).a[0], kReturnNotAvailable);  // the cache is empty: the driver's loop ends
  r = nw.smc(kGetThreadCount);
  EXPECT_EQ(r.a[0], kReturnOk);
  EXPECT_EQ(r.a[1], 4u);
  EXPECT_EQ(nw.smc(kCallsCount).a[0], 13u);
  EXPECT_EQ(nw.smc(0xB2000099).a[0], kReturnUnknownFunction);
  EXPECT_EQ(nw.smc(0x3200FFFF).a[0], kReturnUnknownFunction);
  EXPECT_EQ(nw.smc(kVmCreated, 1).a[0], kReturnUnknownFunction);  // no virtualization configured
  // Upper halves of a0 are ignored for SMC32 function ids; answers' upper halves are zero.
  EXPECT_EQ(nw.smc(0xFFFFFFFF00000000ull | kCallsRevision).a[0], 2u);
}

TEST(Dispatcher, ReservedShmIsOfferedOnlyWhenConfiguredAndWithoutVirtualization) {
  tool::SecureWorldOptions options;
  options.config.reserved_shm = PhysAddr(platform::qemu_virt::kNsecShmBase);
  options.config.reserved_shm_size = platform::qemu_virt::kNsecShmSize;
  NormalWorld nw(options);
  EXPECT_EQ(nw.smc(kExchangeCapabilities).a[1], kSecCapDynamicShm | kSecCapHaveReservedShm);
  const SmcArgs r = nw.smc(kGetShmConfig);
  EXPECT_EQ(r.a[0], kReturnOk);
  EXPECT_EQ(r.a[1], platform::qemu_virt::kNsecShmBase);
  EXPECT_EQ(r.a[2], platform::qemu_virt::kNsecShmSize);
  EXPECT_EQ(r.a[3], 1u);
  options.config.virtualization = true;
  NormalWorld virt(options);
  EXPECT_EQ(virt.smc(kExchangeCapabilities).a[1], kSecCapDynamicShm | kSecCapVirtualization);
  EXPECT_EQ(virt.smc(kGetShmConfig).a[0], kReturnNotAvailable);
}

// The order Linux's driver probes in (linux-optee-driver.md): it must never stall.
TEST(Dispatcher, LinuxProbeSequence) {
  NormalWorld nw;
  EXPECT_EQ(nw.smc(kCallsUid).a[0], kApiUid[0]);
  EXPECT_EQ(nw.smc(kGetOsRevision).a[0], kOsRevisionMajor);
  EXPECT_EQ(nw.smc(kCallsRevision).a[0], 2u);
  EXPECT_EQ(nw.smc(kGetThreadCount).a[0], kReturnOk);
  EXPECT_NE(nw.smc(kExchangeCapabilities, 1).a[1] & kSecCapDynamicShm, 0u);
  int loops = 0;
  while (nw.smc(kDisableShmCache).a[0] != kReturnNotAvailable) ASSERT_LT(++loops, 10);
  EXPECT_EQ(nw.smc(kEnableShmCache).a[0], kReturnOk);
  // Device enumeration opens a pseudo-TA we do not have: ITEM_NOT_FOUND from the TEE, not a hang.
  MsgArg open, out;
  open.cmd = kCmdOpenSession;
  open.num_params = 2;
  open.params[0] = {kAttrValueInput | kAttrMeta, 0x5340dedd88a61170, 0xb813df4d3c7ba9a5, 0};
  open.params[1] = {kAttrValueInput | kAttrMeta, 0, 0, 0};
  ASSERT_EQ(nw.call(open, out), kReturnOk);
  EXPECT_EQ(out.ret, kTeeErrorItemNotFound);
  EXPECT_EQ(out.ret_origin, kOriginTee);
  EXPECT_TRUE(nw.world.dispatcher().audit());
}

TEST(Dispatcher, RegisterUseAndUnregisterABuffer) {
  NormalWorld nw;
  // 600 scattered pages (two list pages), a buffer 0x123 bytes into its first page.
  std::vector<uint64_t> pages;
  for (uint64_t i = 0; i < 600; ++i) pages.push_back(NormalWorld::kData + (i * 7 % 600) * 2 * kPageSize);
  const uint64_t size = 600 * kPageSize - 0x123 - 0x10;
  ASSERT_EQ(nw.register_pages(pages, 0xC00C1E, 0, 0x123, size), kTeeSuccess);
  const Result<shm::ShmObject> object = nw.world.dispatcher().objects().find(GuestId(0), 0xC00C1E);
  ASSERT_TRUE(object);
  EXPECT_EQ(object->size, size);
  EXPECT_EQ(object->offset, 0x123u);
  EXPECT_EQ(nw.world.dispatcher().guests().find(GuestId(0))->usage.pages, 600u);
  // The secure side maps exactly those pages, in order.
  for (uint64_t i = 0; i < 600; ++i)
    EXPECT_EQ(*nw.world.dispatcher().address_space().virt_to_phys(object->va + PageCount(i).size()),
              PhysAddr(pages[i]));
  // The same cookie again: refused, nothing changes.
  EXPECT_EQ(nw.register_pages(pages, 0xC00C1E), kTeeErrorBadParameters);
  EXPECT_EQ(nw.world.dispatcher().objects().count(), 1u);

  // FILL then CHECKSUM through the service: the bytes land in the normal world's pages.
  const uint32_t session = nw.open_service();
  ASSERT_NE(session, 0u);
  MsgArg fill, out;
  fill.cmd = kCmdInvokeCommand;
  fill.session = session;
  fill.func = kServiceFill;
  fill.num_params = 2;
  fill.params[0] = {kAttrRmemOutput, 0x1000, 0x3000, 0xC00C1E};
  fill.params[1] = {kAttrValueInput, 0x40, 0, 0};
  ASSERT_EQ(nw.call(fill, out), kReturnOk);
  ASSERT_EQ(out.ret, kTeeSuccess);
  // Buffer byte 0x1000 is at page (0x123 + 0x1000) / 4K = 1, offset 0x123.
  unsigned char byte = 0;
  nw.world.ram().peek(pages[1] + 0x123, &byte, 1);
  EXPECT_EQ(byte, 0x40);
  nw.world.ram().peek(pages[1] + 0x124, &byte, 1);
  EXPECT_EQ(byte, 0x41);
  MsgArg sum = fill;
  sum.func = kServiceChecksum;
  sum.params[0].attr = kAttrRmemInput;
  sum.params[1] = {kAttrValueOutput, 0, 0, 0};
  ASSERT_EQ(nw.call(sum, out), kReturnOk);
  ASSERT_EQ(out.ret, kTeeSuccess);
  uint64_t expected = kFnvOffset;
  for (uint64_t i = 0; i < 0x3000; ++i) {
    const unsigned char b = pattern_byte(0x40, i);
    expected = fnv1a(expected, &b, 1);
  }
  EXPECT_EQ(out.params[1].a, expected);
  EXPECT_EQ(out.params[1].b, 0x3000u);
  // Out of bounds (offset + size past the buffer, and wrapping): refused before any access.
  sum.params[0] = {kAttrRmemInput, size - 0x10, 0x20, 0xC00C1E};
  ASSERT_EQ(nw.call(sum, out), kReturnOk);
  EXPECT_EQ(out.ret, kTeeErrorBadParameters);
  sum.params[0] = {kAttrRmemInput, 0x10, UINT64_MAX - 0x8, 0xC00C1E};
  ASSERT_EQ(nw.call(sum, out), kReturnOk);
  EXPECT_EQ(out.ret, kTeeErrorBadParameters);

  EXPECT_EQ(nw.unregister(0xC00C1E, 0), kTeeSuccess);
  EXPECT_EQ(nw.unregister(0xC00C1E, 0), kTeeErrorItemNotFound);
  EXPECT_EQ(nw.world.dispatcher().guests().find(GuestId(0))->usage.pages, 0u);
  EXPECT_EQ(nw.world.dispatcher().address_space().shm_usage().ranges, 0u);
  EXPECT_TRUE(nw.world.dispatcher().audit());
}

TEST(Dispatcher, RefusedRegistrationsChangeNothing) {
  NormalWorld nw;
  const auto unchanged = [&] {
    EXPECT_EQ(nw.world.dispatcher().objects().count(), 0u);
    EXPECT_EQ(nw.world.dispatcher().address_space().shm_usage().ranges, 0u);
    EXPECT_EQ(nw.world.dispatcher().guests().find(GuestId(0))->usage, virt::Usage{});
    EXPECT_TRUE(nw.world.dispatcher().audit());
  };
  std::vector<uint64_t> pages = NormalWorld::contiguous(NormalWorld::kData, 8);
  pages[3] = platform::qemu_virt::kTeeRamBase;  // a secure page
  EXPECT_EQ(nw.register_pages(pages, 1), kTeeErrorBadParameters);
  unchanged();
  pages[3] = NormalWorld::kData + 0x800;  // not page aligned
  EXPECT_EQ(nw.register_pages(pages, 2), kTeeErrorBadParameters);
  unchanged();
  // A list page in secure memory.
  MsgArg out;
  EXPECT_EQ(nw.call(NormalWorld::register_message(platform::qemu_virt::kTaRamBase, 0x2000, 3), out), kReturnOk);
  EXPECT_EQ(out.ret, kTeeErrorBadParameters);
  unchanged();
  // A chain that loops: 1200 pages need three list pages; the second points back at the first.
  const std::vector<uint64_t> many = NormalWorld::contiguous(NormalWorld::kData, 1200);
  const uint64_t buf = tool::write_page_list(nw.world.ram(), NormalWorld::kLists, many);
  nw.world.ram().poke_u64(NormalWorld::kLists + kPageSize + 511 * 8, NormalWorld::kLists);
  EXPECT_EQ(nw.call(NormalWorld::register_message(buf, 1200 * kPageSize, 4), out), kReturnOk);
  EXPECT_EQ(out.ret, kTeeErrorBadParameters);
  unchanged();
  // Wrong attribute (OP-TEE demands TMEM_OUTPUT | NONCONTIG), zero size, size that wraps.
  MsgArg m = NormalWorld::register_message(buf, 0x1000, 5);
  m.params[0].attr = kAttrTmemInput | kAttrNonContig;
  EXPECT_EQ(nw.call(m, out), kReturnOk);
  EXPECT_EQ(out.ret, kTeeErrorBadParameters);
  EXPECT_EQ(nw.call(NormalWorld::register_message(buf, 0, 6), out), kReturnOk);
  EXPECT_EQ(out.ret, kTeeErrorBadParameters);
  EXPECT_EQ(nw.call(NormalWorld::register_message(buf | 0xFFF, UINT64_MAX - 0x10, 7), out), kReturnOk);
  EXPECT_EQ(out.ret, kTeeErrorBadParameters);
  unchanged();
  // The argument itself in secure memory, or misaligned: EBADADDR, nothing read.
  EXPECT_EQ(nw.smc(kCallWithArg, 0, platform::qemu_virt::kTeeRamBase).a[0], kReturnBadAddress);
  EXPECT_EQ(nw.smc(kCallWithArg, 0, NormalWorld::kArgs + 4).a[0], kReturnBadAddress);
  // More parameters than the secure side takes: BAD_PARAMETERS in the header.
  MsgArg big;
  big.cmd = kCmdInvokeCommand;
  big.num_params = 200;
  tool::write_message(nw.world.ram(), NormalWorld::kArgs, big);
  nw.world.ram().poke(NormalWorld::kArgs, &big, kMsgHeaderSize);
  EXPECT_EQ(nw.smc(kCallWithArg, 0, NormalWorld::kArgs).a[0], kReturnOk);
  EXPECT_EQ(tool::read_message(nw.world.ram(), NormalWorld::kArgs).ret, kTeeErrorBadParameters);
  unchanged();
}

TEST(Dispatcher, RpcAllocationRoundTrip) {
  NormalWorld nw;
  const uint32_t session = nw.open_service();
  MsgArg m, out;
  m.cmd = kCmdInvokeCommand;
  m.session = session;
  m.func = kServiceRpcAlloc;
  m.num_params = 1;
  m.params[0] = {kAttrValueInout, 5000, 0, 0};
  const uint64_t arg = NormalWorld::kArgs;
  tool::write_message(nw.world.ram(), arg, m);
  SmcArgs r = nw.smc(kCallWithArg, 0, arg);
  ASSERT_EQ(r.a[0], kRpcAlloc);
  EXPECT_EQ(r.a[1], 5000u);
  EXPECT_EQ(nw.world.dispatcher().threads_in_state(ThreadState::kSuspended), 1u);
  // The normal world allocates two pages and answers; the secure side fills them and asks to free.
  const uint64_t buffer = 0x4500'0000;
  r = nw.smc(kReturnFromRpc, 0, buffer, r.a[3], 0, 0, 0xB0B);
  ASSERT_EQ(r.a[0], kRpcFree);
  EXPECT_EQ((r.a[1] << 32) | r.a[2], 0xB0Bu);
  unsigned char byte = 0;
  nw.world.ram().peek(buffer + 4999, &byte, 1);
  EXPECT_EQ(byte, pattern_byte(5000, 4999));
  EXPECT_EQ(nw.world.dispatcher().address_space().shm_usage().ranges, 0u);  // unmapped before the free
  r = nw.smc(kReturnFromRpc, 0, 0, r.a[3]);
  ASSERT_EQ(r.a[0], kReturnOk);
  out = tool::read_message(nw.world.ram(), arg);
  EXPECT_EQ(out.ret, kTeeSuccess);
  EXPECT_EQ(out.params[0].b, 5000u);
  EXPECT_EQ(nw.world.dispatcher().threads_in_state(ThreadState::kFree), 4u);
  EXPECT_TRUE(nw.world.dispatcher().audit());
  // A buffer the normal world puts in secure memory is refused (and still given back).
  tool::write_message(nw.world.ram(), arg, m);
  r = nw.smc(kCallWithArg, 0, arg);
  r = nw.smc(kReturnFromRpc, 0, platform::qemu_virt::kTeeRamBase, r.a[3], 0, 0, 0xB0C);
  ASSERT_EQ(r.a[0], kRpcFree);
  r = nw.smc(kReturnFromRpc, 0, 0, r.a[3]);
  EXPECT_EQ(tool::read_message(nw.world.ram(), arg).ret, kTeeErrorBadParameters);
  // No memory in the normal world: OUT_OF_MEMORY, nothing to free.
  tool::write_message(nw.world.ram(), arg, m);
  r = nw.smc(kCallWithArg, 0, arg);
  r = nw.smc(kReturnFromRpc, 0, 0, r.a[3]);
  EXPECT_EQ(r.a[0], kReturnOk);
  EXPECT_EQ(tool::read_message(nw.world.ram(), arg).ret, kTeeErrorOutOfMemory);
  EXPECT_TRUE(nw.world.dispatcher().audit());
}

TEST(Dispatcher, ThreadsLimitsAndResumeChecks) {
  tool::SecureWorldOptions options;
  options.threads = 2;
  NormalWorld nw(options);
  const uint32_t session = nw.open_service();
  MsgArg m;
  m.cmd = kCmdInvokeCommand;
  m.session = session;
  m.func = kServiceRpcAlloc;
  m.num_params = 1;
  m.params[0] = {kAttrValueInout, 4096, 0, 0};
  uint64_t tokens[2];
  for (unsigned i = 0; i < 2; ++i) {
    tool::write_message(nw.world.ram(), NormalWorld::kArgs + i * kPageSize, m);
    const SmcArgs r = nw.smc(kCallWithArg, 0, NormalWorld::kArgs + i * kPageSize);
    ASSERT_EQ(r.a[0], kRpcAlloc);
    tokens[i] = r.a[3];
  }
  tool::write_message(nw.world.ram(), NormalWorld::kArgs + 2 * kPageSize, m);
  EXPECT_EQ(nw.smc(kCallWithArg, 0, NormalWorld::kArgs + 2 * kPageSize).a[0], kReturnThreadLimit);
  EXPECT_EQ(nw.smc(kReturnFromRpc, 0, 0, 0x7777).a[0], kReturnResume);               // no such thread
  EXPECT_EQ(nw.smc(kReturnFromRpc, 0, 0, tokens[0] + 0x10000).a[0], kReturnResume);  // stale generation
  EXPECT_EQ(nw.smc(kReturnFromRpc, 0, 0, tokens[0]).a[0], kReturnOk);                // no memory: completes
  EXPECT_EQ(nw.smc(kReturnFromRpc, 0, 0, tokens[0]).a[0], kReturnResume);            // already completed
  EXPECT_EQ(nw.smc(kReturnFromRpc, 0, 0, tokens[1]).a[0], kReturnOk);
  EXPECT_TRUE(nw.world.dispatcher().audit());
}

// Virtualization: guests come and go through the hypervisor; each sees only its own objects;
// a guest's death frees everything, including what a suspended call holds.
TEST(Dispatcher, GuestsOwnershipQuotasAndDeath) {
  tool::SecureWorldOptions options;
  options.config.virtualization = true;
  options.config.quota.buffers = 3;
  options.config.quota.threads = 2;
  NormalWorld nw(options);
  EXPECT_EQ(nw.smc(kVmCreated, 1, 0, 0, /*guest=*/5).a[0], kReturnNotAvailable);  // only the hypervisor
  ASSERT_EQ(nw.smc(kVmCreated, 1).a[0], kReturnOk);
  ASSERT_EQ(nw.smc(kVmCreated, 2).a[0], kReturnOk);
  EXPECT_EQ(nw.smc(kVmCreated, 2).a[0], kReturnNotAvailable);  // a live id is refused, not reset
  EXPECT_EQ(nw.smc(kVmCreated, 0).a[0], kReturnNotAvailable);
  // Unknown guests and the hypervisor itself make no yielding calls.
  MsgArg out;
  EXPECT_EQ(nw.call(NormalWorld::register_message(0, 0x1000, 1), out, 9), kReturnNotAvailable);
  EXPECT_EQ(nw.call(NormalWorld::register_message(0, 0x1000, 1), out, 0), kReturnNotAvailable);

  for (uint64_t c = 1; c <= 3; ++c)
    ASSERT_EQ(nw.register_pages(NormalWorld::contiguous(NormalWorld::kData + c * 0x10000, 2), c, 1), kTeeSuccess);
  EXPECT_EQ(nw.register_pages(NormalWorld::contiguous(NormalWorld::kData + 0x80000, 2), 4, 1), kTeeErrorOutOfMemory);
  // Guest 2 is unaffected by guest 1's quota, may reuse guest 1's cookies, cannot name guest 1's.
  ASSERT_EQ(nw.register_pages(NormalWorld::contiguous(NormalWorld::kData + 0x90000, 2), 1, 2), kTeeSuccess);
  EXPECT_EQ(nw.unregister(2, 2), kTeeErrorItemNotFound);
  EXPECT_TRUE(nw.world.dispatcher().objects().find(GuestId(1), 2));

  // Guest 1 suspends a call that holds its buffer 3 (the RPC buffer counts against its quota too,
  // so one registered buffer goes first); unregistering buffer 3 meanwhile is BUSY.
  EXPECT_EQ(nw.unregister(1, 1), kTeeSuccess);
  const uint32_t session = nw.open_service(1);
  ASSERT_NE(session, 0u);
  MsgArg m;
  m.cmd = kCmdInvokeCommand;
  m.session = session;
  m.func = kServiceRpcAlloc;
  m.num_params = 2;
  m.params[0] = {kAttrValueInout, 4096, 0, 0};
  m.params[1] = {kAttrRmemOutput, 0, 0x1000, 3};
  tool::write_message(nw.world.ram(), NormalWorld::kArgs, m);
  const SmcArgs r = nw.smc(kCallWithArg, 0, NormalWorld::kArgs, 0, 1);
  ASSERT_EQ(r.a[0], kRpcAlloc);
  EXPECT_EQ(nw.smc(kReturnFromRpc, 0, 0, r.a[3], 2).a[0], kReturnResume);  // another guest cannot resume it
  EXPECT_EQ(nw.unregister(3, 1), kTeeErrorBusy);
  // With its thread quota lowered to the one call it has suspended, guest 1 gets ETHREAD_LIMIT;
  // guest 2 does not.
  virt::Quota one_thread = options.config.quota;
  one_thread.threads = 1;
  ASSERT_TRUE(nw.world.dispatcher().set_quota(GuestId(1), one_thread));
  EXPECT_EQ(nw.call(NormalWorld::register_message(0, 0x1000, 9), out, 1, 1), kReturnThreadLimit);
  EXPECT_EQ(nw.unregister(1, 2), kTeeSuccess);
  EXPECT_TRUE(nw.world.dispatcher().audit());

  // Guest 1 dies with the call suspended: everything it had goes.
  EXPECT_EQ(nw.smc(kVmDestroyed, 1, 0, 0, 2).a[0], kReturnNotAvailable);  // only the hypervisor
  ASSERT_EQ(nw.smc(kVmDestroyed, 1).a[0], kReturnOk);
  EXPECT_EQ(nw.world.dispatcher().objects().count(), 0u);
  EXPECT_EQ(nw.world.dispatcher().address_space().shm_usage().ranges, 0u);
  EXPECT_EQ(nw.world.dispatcher().threads_in_state(ThreadState::kFree), 4u);
  EXPECT_EQ(nw.world.dispatcher().sessions_of(GuestId(1)), 0u);
  EXPECT_EQ(nw.smc(kReturnFromRpc, 0, 0, r.a[3], 1).a[0], kReturnResume);
  EXPECT_EQ(nw.smc(kVmDestroyed, 1).a[0], kReturnNotAvailable);
  EXPECT_TRUE(nw.world.dispatcher().audit());
  // The id can be created again, fresh.
  ASSERT_EQ(nw.smc(kVmCreated, 1).a[0], kReturnOk);
  EXPECT_EQ(nw.world.dispatcher().guests().find(GuestId(1))->usage, virt::Usage{});
}

TEST(Dispatcher, UnknownServicesAndSessions) {
  NormalWorld nw;
  MsgArg m, out;
  m.cmd = kCmdInvokeCommand;
  m.session = 1234;
  EXPECT_EQ(nw.call(m, out), kReturnOk);
  EXPECT_EQ(out.ret, kTeeErrorBadParameters);
  m.cmd = 99;
  EXPECT_EQ(nw.call(m, out), kReturnOk);
  EXPECT_EQ(out.ret, kTeeErrorBadParameters);
  const uint32_t session = nw.open_service();
  m.cmd = kCmdInvokeCommand;
  m.session = session;
  m.func = 77;
  EXPECT_EQ(nw.call(m, out), kReturnOk);
  EXPECT_EQ(out.ret, kTeeErrorNotSupported);
  m.cmd = kCmdCloseSession;
  EXPECT_EQ(nw.call(m, out), kReturnOk);
  EXPECT_EQ(out.ret, kTeeSuccess);
  EXPECT_EQ(nw.call(m, out), kReturnOk);
  EXPECT_EQ(out.ret, kTeeErrorBadParameters);
  EXPECT_EQ(nw.world.dispatcher().sessions_of(GuestId(0)), 0u);
}

}  // namespace
}  // namespace teemm::optee

namespace teemm::optee {
namespace {

// The service's allocation through RPC CMD messages, both shapes of answer Linux gives
// (6.1: a contiguous buffer, 6.12: a page list).
TEST(Dispatcher, RpcCommandShmAllocAndFree) {
  for (bool page_list : {false, true}) {
    SCOPED_TRACE(page_list);
    NormalWorld nw;
    const uint32_t session = nw.open_service();
    MsgArg m;
    m.cmd = kCmdInvokeCommand;
    m.session = session;
    m.func = kServiceRpcCmd;
    m.num_params = 1;
    m.params[0] = {kAttrValueInout, 3 * kPageSize, 0, 0};
    const uint64_t arg = NormalWorld::kArgs;
    tool::write_message(nw.world.ram(), arg, m);
    SmcArgs r = nw.smc(kCallWithArg, 0, arg);
    ASSERT_EQ(r.a[0], kRpcAlloc);  // first a page for the RPC messages
    EXPECT_EQ(r.a[1], message_bytes(1));
    const uint64_t message_page = 0x4600'0000;
    r = nw.smc(kReturnFromRpc, 0, message_page, r.a[3], 0, 0, 0xC1);
    ASSERT_EQ(r.a[0], kRpcCmd);
    EXPECT_EQ((r.a[1] << 32) | r.a[2], 0xC1u);
    MsgArg rpc = tool::read_message(nw.world.ram(), message_page);
    EXPECT_EQ(rpc.cmd, kRpcCmdShmAlloc);
    EXPECT_EQ(rpc.params[0].attr, kAttrValueInput);
    EXPECT_EQ(rpc.params[0].a, kRpcShmTypeKernel);
    EXPECT_EQ(rpc.params[0].b, 3 * kPageSize);
    // The normal world allocates three scattered pages and answers in the message.
    const std::vector<uint64_t> pages = {0x4700'2000, 0x4700'0000, 0x4700'8000};
    rpc.ret = kTeeSuccess;
    if (page_list) {
      const uint64_t buf = tool::write_page_list(nw.world.ram(), NormalWorld::kLists, pages);
      rpc.params[0] = {kAttrTmemOutput | kAttrNonContig, buf, 3 * kPageSize, 0xC2};
    } else {
      rpc.params[0] = {kAttrTmemOutput, 0x4700'0000, 3 * kPageSize, 0xC2};
    }
    tool::write_message(nw.world.ram(), message_page, rpc);
    r = nw.smc(kReturnFromRpc, 0, 0, r.a[3]);
    ASSERT_EQ(r.a[0], kRpcCmd);
    rpc = tool::read_message(nw.world.ram(), message_page);
    EXPECT_EQ(rpc.cmd, kRpcCmdShmFree);
    EXPECT_EQ(rpc.params[0].b, 0xC2u);
    const uint64_t first = page_list ? pages[0] : 0x4700'0000;
    unsigned char byte = 0;
    nw.world.ram().peek(first + 7, &byte, 1);
    EXPECT_EQ(byte, pattern_byte(3 * kPageSize, 7));
    r = nw.smc(kReturnFromRpc, 0, 0, r.a[3]);
    ASSERT_EQ(r.a[0], kRpcFree);  // and the message page goes back
    EXPECT_EQ((r.a[1] << 32) | r.a[2], 0xC1u);
    r = nw.smc(kReturnFromRpc, 0, 0, r.a[3]);
    ASSERT_EQ(r.a[0], kReturnOk);
    const MsgArg out = tool::read_message(nw.world.ram(), arg);
    EXPECT_EQ(out.ret, kTeeSuccess);
    EXPECT_EQ(out.params[0].b, 3 * kPageSize);
    EXPECT_EQ(nw.world.dispatcher().address_space().shm_usage().ranges, 0u);
    EXPECT_TRUE(nw.world.dispatcher().audit());
  }
}

// A hostile SHM_ALLOC answer (secure memory) is refused, freed, and the call still ends cleanly.
TEST(Dispatcher, RpcCommandRefusesASecureBuffer) {
  NormalWorld nw;
  MsgArg m;
  m.cmd = kCmdInvokeCommand;
  m.session = nw.open_service();
  m.func = kServiceRpcCmd;
  m.num_params = 1;
  m.params[0] = {kAttrValueInout, kPageSize, 0, 0};
  tool::write_message(nw.world.ram(), NormalWorld::kArgs, m);
  SmcArgs r = nw.smc(kCallWithArg, 0, NormalWorld::kArgs);
  r = nw.smc(kReturnFromRpc, 0, 0x4600'0000, r.a[3], 0, 0, 0xC1);
  MsgArg rpc = tool::read_message(nw.world.ram(), 0x4600'0000);
  rpc.ret = kTeeSuccess;
  rpc.params[0] = {kAttrTmemOutput, platform::qemu_virt::kTeeRamBase, kPageSize, 0xC2};
  tool::write_message(nw.world.ram(), 0x4600'0000, rpc);
  r = nw.smc(kReturnFromRpc, 0, 0, r.a[3]);
  ASSERT_EQ(r.a[0], kRpcCmd);  // SHM_FREE of what it was given
  r = nw.smc(kReturnFromRpc, 0, 0, r.a[3]);
  ASSERT_EQ(r.a[0], kRpcFree);
  r = nw.smc(kReturnFromRpc, 0, 0, r.a[3]);
  ASSERT_EQ(r.a[0], kReturnOk);
  EXPECT_EQ(tool::read_message(nw.world.ram(), NormalWorld::kArgs).ret, kTeeErrorBadParameters);
  EXPECT_TRUE(nw.world.dispatcher().audit());
}

}  // namespace
}  // namespace teemm::optee

namespace teemm::optee {
namespace {

MsgArg rpc_alloc_call(uint32_t session, uint64_t size = kPageSize) {
  MsgArg m;
  m.cmd = kCmdInvokeCommand;
  m.session = session;
  m.func = kServiceRpcAlloc;
  m.num_params = 1;
  m.params[0] = {kAttrValueInout, size, 0, 0};
  return m;
}

// A guest that fills the threads with suspended calls leaves one for every idle guest.
TEST(Dispatcher, EveryIdleGuestKeepsAThread) {
  tool::SecureWorldOptions options;
  options.config.virtualization = true;
  options.threads = 4;
  NormalWorld nw(options);
  ASSERT_EQ(nw.smc(kVmCreated, 1).a[0], kReturnOk);
  ASSERT_EQ(nw.smc(kVmCreated, 2).a[0], kReturnOk);
  const uint32_t s1 = nw.open_service(1), s2 = nw.open_service(2);
  unsigned suspended = 0;
  for (unsigned slot = 0; slot < 4; ++slot) {
    tool::write_message(nw.world.ram(), NormalWorld::kArgs + slot * kPageSize, rpc_alloc_call(s1));
    const SmcArgs r = nw.smc(kCallWithArg, 0, NormalWorld::kArgs + slot * kPageSize, 0, 1);
    if (r.a[0] == kReturnThreadLimit) break;
    ASSERT_EQ(r.a[0], kRpcAlloc);
    ++suspended;
  }
  EXPECT_EQ(suspended, 3u);  // the fourth thread is guest 2's to use
  tool::write_message(nw.world.ram(), NormalWorld::kArgs + 8 * kPageSize, rpc_alloc_call(s2));
  EXPECT_EQ(nw.smc(kCallWithArg, 0, NormalWorld::kArgs + 8 * kPageSize, 0, 2).a[0], kRpcAlloc);
  EXPECT_TRUE(nw.world.dispatcher().audit());
}

// A session with a call suspended on it cannot be closed under that call; a refused message
// keeps its header's parameter count.
TEST(Dispatcher, SessionsStayWhileACallUsesThemAndRefusedHeadersKeepTheirCount) {
  NormalWorld nw;
  const uint32_t session = nw.open_service();
  tool::write_message(nw.world.ram(), NormalWorld::kArgs, rpc_alloc_call(session));
  const SmcArgs r = nw.smc(kCallWithArg, 0, NormalWorld::kArgs);
  ASSERT_EQ(r.a[0], kRpcAlloc);
  MsgArg close, out;
  close.cmd = kCmdCloseSession;
  close.session = session;
  ASSERT_EQ(nw.call(close, out, 0, 2), kReturnOk);
  EXPECT_EQ(out.ret, kTeeErrorBusy);
  ASSERT_EQ(nw.smc(kReturnFromRpc, 0, 0, r.a[3]).a[0], kReturnOk);  // no memory: the call ends
  ASSERT_EQ(nw.call(close, out, 0, 2), kReturnOk);
  EXPECT_EQ(out.ret, kTeeSuccess);

  MsgArg big;
  big.cmd = kCmdInvokeCommand;
  big.num_params = 200;
  nw.world.ram().poke(NormalWorld::kArgs, &big, kMsgHeaderSize);
  ASSERT_EQ(nw.smc(kCallWithArg, 0, NormalWorld::kArgs).a[0], kReturnOk);
  out = tool::read_message(nw.world.ram(), NormalWorld::kArgs);
  EXPECT_EQ(out.ret, kTeeErrorBadParameters);
  EXPECT_EQ(out.num_params, 200u);
}

}  // namespace
}  // namespace teemm::optee
