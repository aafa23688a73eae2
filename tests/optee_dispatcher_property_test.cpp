// Random multi-guest sequences against a plain model: guests are created and destroyed, buffers
// registered (some hostile), used, unregistered, held by calls suspended in an RPC, and the
// dispatcher must answer what the model predicts and keep its audit after every step.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <vector>

#include "support/normal_world.hpp"

namespace teemm::optee {
namespace {

using testing::NormalWorld;

constexpr uint16_t kGuests = 4;
constexpr uint32_t kQuotaBuffers = 6;
constexpr uint64_t kQuotaPages = 64;

struct ModelBuffer {
  std::vector<uint64_t> pages;
  uint64_t size = 0;
  uint64_t offset = 0;
};

struct ModelGuest {
  std::map<uint64_t, ModelBuffer> buffers;  // by cookie
  uint32_t session = 0;
  uint64_t pages = 0;
  bool suspended = false;  // one call in an RPC, holding `held`
  uint64_t held = 0;
  uint64_t token = 0;
  unsigned slot = 0;
};

struct Model {
  std::map<uint16_t, ModelGuest> guests;  // live ones
};

class DispatcherProperty : public ::testing::TestWithParam<uint64_t> {
 protected:
  DispatcherProperty() : nw(options()), static_table_pages(nw.session.pool().used()) {}
  static tool::SecureWorldOptions options() {
    tool::SecureWorldOptions o;
    o.config.virtualization = true;
    o.config.quota.buffers = kQuotaBuffers;
    o.config.quota.pages = kQuotaPages;
    o.config.quota.threads = 2;
    o.threads = 8;
    return o;
  }

  // A page list: mostly good pages of DRAM; sometimes a hostile or misaligned one.
  std::vector<uint64_t> random_pages(bool& hostile) {
    const uint64_t count = 1 + random() % 12;
    std::vector<uint64_t> pages;
    for (uint64_t i = 0; i < count; ++i) pages.push_back(NormalWorld::kData + (random() % 4096) * kPageSize);
    hostile = random() % 8 == 0;
    if (hostile) {
      const uint64_t bad[] = {platform::qemu_virt::kTeeRamBase,  platform::qemu_virt::kTaRamBase,
                              platform::qemu_virt::kNsecShmBase, platform::qemu_virt::kGicBase,
                              NormalWorld::kData + 0x10,         0x8000'0000};
      pages[random() % count] = bad[random() % 6];
    }
    return pages;
  }

  uint64_t expected_checksum(const ModelBuffer& b) {
    std::vector<unsigned char> bytes(b.size);
    for (uint64_t i = 0; i < b.size; ++i) {
      const uint64_t at = b.offset + i;
      nw.world.ram().peek(b.pages[at / kPageSize] + at % kPageSize, &bytes[i], 1);
    }
    return fnv1a(kFnvOffset, bytes.data(), bytes.size());
  }

  void check_state() {
    ASSERT_TRUE(nw.world.dispatcher().audit());
    size_t objects = 0;
    for (const auto& [id, guest] : model.guests) {
      objects += guest.buffers.size();
      const virt::Guest* g = nw.world.dispatcher().guests().find(GuestId(id));
      ASSERT_NE(g, nullptr);
      ASSERT_EQ(g->usage.pages, guest.pages + (guest.suspended ? 1 : 0));
      ASSERT_EQ(nw.world.dispatcher().objects().count_of(GuestId(id)), guest.buffers.size());
    }
    ASSERT_EQ(nw.world.dispatcher().objects().count(), objects);
    ASSERT_EQ(nw.world.dispatcher().guests().live_count(), model.guests.size());
  }

  MsgArg invoke(const ModelGuest& guest, uint32_t func) {
    MsgArg m;
    m.cmd = kCmdInvokeCommand;
    m.session = guest.session;
    m.func = func;
    return m;
  }

  void step() {
    const uint16_t id = static_cast<uint16_t>(1 + random() % kGuests);
    const bool live = model.guests.count(id) != 0;
    ModelGuest* guest = live ? &model.guests[id] : nullptr;
    const unsigned op = random() % 100;
    if (op < 8) {  // the hypervisor creates a guest
      ASSERT_EQ(nw.smc(kVmCreated, id).a[0], live ? kReturnNotAvailable : kReturnOk);
      if (!live) {
        model.guests[id].session = nw.open_service(id);
        model.guests[id].slot = id;
        ASSERT_NE(model.guests[id].session, 0u);
      }
    } else if (op < 12) {  // ... or destroys one, whatever it is doing
      ASSERT_EQ(nw.smc(kVmDestroyed, id).a[0], live ? kReturnOk : kReturnNotAvailable);
      if (live) {
        if (guest->suspended) {
          ASSERT_EQ(nw.smc(kReturnFromRpc, 0, 0, guest->token, id).a[0], kReturnResume);
        }
        model.guests.erase(id);
      }
    } else if (op < 45) {  // register a buffer (cookies collide on purpose)
      bool hostile = false;
      const std::vector<uint64_t> pages = random_pages(hostile);
      const uint64_t cookie = random() % 10;
      const uint64_t offset = random() % 2 == 0 ? 0 : (random() % kPageSize) & ~uint64_t{7};
      const uint64_t size = pages.size() * kPageSize - offset - random() % 64;
      const uint32_t ret = nw.register_pages(pages, cookie, id, offset, size, id);
      if (!live) {
        ASSERT_EQ(ret, 0xDEADu);  // ENOTAVAIL: no such guest
        ASSERT_EQ(nw.last.a[0], kReturnNotAvailable);
        return;
      }
      // The dispatcher's order: a live cookie, then the quota, then the pages themselves.
      uint32_t expected = kTeeSuccess;
      if (guest->buffers.count(cookie) != 0)
        expected = kTeeErrorBadParameters;
      else if (guest->buffers.size() + (guest->suspended ? 1 : 0) >= kQuotaBuffers ||
               guest->pages + (guest->suspended ? 1 : 0) + pages.size() > kQuotaPages)
        expected = kTeeErrorOutOfMemory;
      else if (hostile)
        expected = kTeeErrorBadParameters;
      ASSERT_EQ(ret, expected);
      if (ret == kTeeSuccess) {
        guest->buffers[cookie] = ModelBuffer{pages, size, offset};
        guest->pages += pages.size();
      }
    } else if (op < 60 && live) {  // unregister (maybe one a suspended call holds, maybe none)
      const uint64_t cookie = random() % 10;
      const uint32_t ret = nw.unregister(cookie, id);
      const bool exists = guest->buffers.count(cookie) != 0;
      if (!exists) {
        ASSERT_EQ(ret, kTeeErrorItemNotFound);
      } else if (guest->suspended && guest->held == cookie) {
        ASSERT_EQ(ret, kTeeErrorBusy);
      } else {
        ASSERT_EQ(ret, kTeeSuccess);
        guest->pages -= guest->buffers[cookie].pages.size();
        guest->buffers.erase(cookie);
      }
    } else if (op < 75 && live && !guest->buffers.empty()) {  // checksum a buffer through the service
      auto it = std::next(guest->buffers.begin(), random() % guest->buffers.size());
      MsgArg m = invoke(*guest, kServiceChecksum), out;
      m.num_params = 2;
      m.params[0] = {kAttrRmemInput, 0, it->second.size, it->first};
      m.params[1] = {kAttrValueOutput, 0, 0, 0};
      ASSERT_EQ(nw.call(m, out, id, 8 + id), kReturnOk);
      ASSERT_EQ(out.ret, kTeeSuccess);
      ASSERT_EQ(out.params[1].a, expected_checksum(it->second));
    } else if (op < 88 && live && !guest->suspended && !guest->buffers.empty()) {  // suspend holding a buffer
      auto it = std::next(guest->buffers.begin(), random() % guest->buffers.size());
      MsgArg m = invoke(*guest, kServiceRpcAlloc);
      m.num_params = 2;
      m.params[0] = {kAttrValueInout, 4096, 0, 0};
      m.params[1] = {kAttrRmemOutput, 0, it->second.size < 4096 ? it->second.size : 4096, it->first};
      const uint64_t pa = NormalWorld::kArgs + (16 + id) * kPageSize;
      tool::write_message(nw.world.ram(), pa, m);
      const SmcArgs r = nw.smc(kCallWithArg, 0, pa, 0, id);
      const bool quota = guest->buffers.size() >= kQuotaBuffers || guest->pages + 1 > kQuotaPages;
      if (quota) {
        ASSERT_EQ(r.a[0], kReturnOk);
        ASSERT_EQ(tool::read_message(nw.world.ram(), pa).ret, kTeeErrorOutOfMemory);
        return;
      }
      ASSERT_EQ(r.a[0], kRpcAlloc);
      guest->suspended = true;
      guest->held = it->first;
      guest->token = r.a[3];
    } else if (live && guest->suspended) {  // the normal world answers the RPC: a page, or none
      const bool give = random() % 4 != 0;
      SmcArgs r = nw.smc(kReturnFromRpc, 0, give ? 0x4800'0000 + id * kPageSize : 0, guest->token, id, 0, 77);
      if (give) {
        ASSERT_EQ(r.a[0], kRpcFree);
        r = nw.smc(kReturnFromRpc, 0, 0, r.a[3], id);
      }
      ASSERT_EQ(r.a[0], kReturnOk);
      guest->suspended = false;
    }
  }

  NormalWorld nw;
  size_t static_table_pages;
  Model model;
  std::mt19937_64 random{GetParam()};
};

TEST_P(DispatcherProperty, AgreesWithModelAcrossGuestLivesAndDeaths) {
  for (int i = 0; i < 700; ++i) {
    SCOPED_TRACE(i);
    ASSERT_NO_FATAL_FAILURE(step());
    ASSERT_NO_FATAL_FAILURE(check_state());
  }
  // Every guest dies: nothing is left anywhere.
  for (const auto& entry : model.guests) ASSERT_EQ(nw.smc(kVmDestroyed, entry.first).a[0], kReturnOk);
  EXPECT_EQ(nw.world.dispatcher().objects().count(), 0u);
  EXPECT_EQ(nw.world.dispatcher().address_space().shm_usage().ranges, 0u);
  EXPECT_EQ(nw.world.dispatcher().threads_in_state(ThreadState::kFree), 8u);
  EXPECT_EQ(nw.session.pool().used(), static_table_pages);  // every table page came back
  EXPECT_TRUE(nw.world.dispatcher().audit());
}

INSTANTIATE_TEST_SUITE_P(Seeds, DispatcherProperty, ::testing::Values(1, 2, 3, 4, 5, 6));

}  // namespace
}  // namespace teemm::optee
