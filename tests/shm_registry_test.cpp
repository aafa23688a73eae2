// The shared-memory registry: per-guest cookies, users, bounds, teardown, against a std::map.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "shm/shm_registry.hpp"

namespace teemm::shm {
namespace {

ShmObject object(uint16_t guest, uint64_t cookie, uint64_t va = 0x1000'0000, uint64_t size = 0x3000) {
  return ShmObject{GuestId(guest), cookie, VirtAddr(va), 0x10, size, 0};
}

TEST(ShmRegistry, CookiesBelongToTheirGuest) {
  std::vector<ShmRegistry::Node> nodes(64);
  ShmRegistry r;
  ASSERT_TRUE(r.init(nodes.data(), nodes.size()));
  ASSERT_TRUE(r.insert(object(1, 7)));
  EXPECT_EQ(r.insert(object(1, 7)).error(), Error::kOverlap);  // live for that guest
  ASSERT_TRUE(r.insert(object(2, 7, 0x2000'0000)));            // another guest's 7 is another object
  EXPECT_EQ(r.find(GuestId(2), 7)->va, VirtAddr(0x2000'0000));
  EXPECT_EQ(r.find(GuestId(3), 7).error(), Error::kNotFound);
  EXPECT_EQ(r.find(GuestId(1), 7)->offset, 0x10u);
  EXPECT_EQ(r.find(GuestId(1), 7)->pages(), 4u);  // 0x10 + 0x3000 bytes span four pages
  // Users block erasure.
  ASSERT_TRUE(r.acquire(GuestId(1), 7));
  EXPECT_EQ(r.erase(GuestId(1), 7).error(), Error::kBusy);
  EXPECT_EQ(r.find(GuestId(1), 7)->users, 1u);
  ASSERT_TRUE(r.release(GuestId(1), 7));
  EXPECT_EQ(r.release(GuestId(1), 7).error(), Error::kInvalidArgument);  // no user left to drop
  ASSERT_TRUE(r.erase(GuestId(1), 7));
  EXPECT_EQ(r.erase(GuestId(1), 7).error(), Error::kNotFound);
  // Bad objects are refused.
  EXPECT_EQ(r.insert(object(1, 8, 0x1000'0000, 0)).error(), Error::kInvalidArgument);
  EXPECT_EQ(r.insert(object(1, 8, 0x1000'0800)).error(), Error::kInvalidArgument);
  EXPECT_EQ(r.insert(object(1, 8, 0x1000'0000, uint64_t{1} << 48)).error(), Error::kInvalidArgument);
  EXPECT_EQ(r.count(), 1u);
  EXPECT_TRUE(r.audit());
}

// The tree pads unused key slots with a key above every real one; the largest real key (guest
// 0xFFFF, cookie 2^64 - 1) is still an ordinary key, found, listed and erased like any other.
TEST(ShmRegistry, TheLargestGuestAndCookieAreOrdinaryKeys) {
  std::vector<ShmRegistry::Node> nodes(64);
  ShmRegistry r;
  ASSERT_TRUE(r.init(nodes.data(), nodes.size()));
  constexpr uint64_t kTop = ~uint64_t{0};
  for (uint64_t cookie = kTop - 40; cookie != 0; ++cookie) ASSERT_TRUE(r.insert(object(0xFFFF, cookie)));
  ASSERT_TRUE(r.insert(object(0xFFFE, kTop)));
  EXPECT_EQ(r.insert(object(0xFFFF, kTop)).error(), Error::kOverlap);
  EXPECT_TRUE(r.find(GuestId(0xFFFF), kTop));
  EXPECT_EQ(r.count_of(GuestId(0xFFFF)), 41u);
  EXPECT_TRUE(r.audit());
  EXPECT_EQ(r.erase_all_of(GuestId(0xFFFF)), 41u);
  EXPECT_TRUE(r.find(GuestId(0xFFFE), kTop));
  EXPECT_EQ(r.count(), 1u);
  EXPECT_TRUE(r.audit());
}

TEST(ShmRegistry, CapacityIsABoundNotACrash) {
  std::vector<ShmRegistry::Node> nodes(40);
  ShmRegistry r;
  ASSERT_TRUE(r.init(nodes.data(), nodes.size()));
  for (uint64_t c = 0; c < 40; ++c) ASSERT_TRUE(r.insert(object(1, c)));
  EXPECT_EQ(r.insert(object(1, 99)).error(), Error::kOutOfMemory);
  EXPECT_EQ(r.count(), 40u);
  EXPECT_TRUE(r.audit());
}

TEST(ShmRegistry, RandomOperationsAgreeWithAMap) {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    std::vector<ShmRegistry::Node> nodes(3000);
    ShmRegistry r;
    ASSERT_TRUE(r.init(nodes.data(), nodes.size()));
    std::map<std::pair<uint16_t, uint64_t>, uint16_t> model;  // -> users
    std::mt19937_64 random(seed);
    for (int step = 0; step < 20000; ++step) {
      const uint16_t guest = static_cast<uint16_t>(random() % 6);
      const uint64_t cookie = random() % 800;
      const auto key = std::make_pair(guest, cookie);
      const bool live = model.count(key) != 0;
      switch (random() % 6) {
        case 0:
        case 1: {
          const Status s = r.insert(object(guest, cookie, 0x1000 * (1 + step)));
          ASSERT_EQ(s.ok(), !live && model.size() < 3000);
          if (s) model[key] = 0;
          break;
        }
        case 2:
          ASSERT_EQ(r.acquire(GuestId(guest), cookie).ok(), live);
          if (live) ++model[key];
          break;
        case 3:
          ASSERT_EQ(r.release(GuestId(guest), cookie).ok(), live && model[key] > 0);
          if (live && model[key] > 0) --model[key];
          break;
        case 4: {
          const Status s = r.erase(GuestId(guest), cookie);
          ASSERT_EQ(s.ok(), live && model[key] == 0);
          if (s) model.erase(key);
          break;
        }
        default:
          if (random() % 50 == 0) {  // a guest dies
            const size_t expected = std::erase_if(model, [&](const auto& entry) { return entry.first.first == guest; });
            ASSERT_EQ(r.erase_all_of(GuestId(guest)), expected);
          }
      }
      if (step % 500 == 0) {
        ASSERT_TRUE(r.audit());
        for (uint16_t g = 0; g < 6; ++g) {
          size_t n = 0;
          uint64_t last = 0;
          bool first = true;
          r.for_each_of(GuestId(g), [&](const ShmObject& o) {
            EXPECT_EQ(o.guest, GuestId(g));
            EXPECT_TRUE(first || o.cookie > last);  // cookie order
            EXPECT_EQ(o.users, model[std::make_pair(g, o.cookie)]);
            first = false;
            last = o.cookie;
            ++n;
          });
          size_t expected = 0;
          for (const auto& entry : model) expected += entry.first.first == g;
          ASSERT_EQ(n, expected);
          ASSERT_EQ(r.count_of(GuestId(g)), expected);
        }
      }
    }
    ASSERT_EQ(r.count(), model.size());
  }
}

}  // namespace
}  // namespace teemm::shm
