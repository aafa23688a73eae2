// shm/shm_registry: registered shared-memory objects, by (guest, cookie).
//
// Owns the answer to "which buffer does guest G mean by cookie C": where it is mapped, how large
// it is, and how many calls in flight use it. One B+tree (base/btree) keyed by (guest, cookie)
// keeps a guest's objects together, so lookups are O(log n) and listing or tearing down one guest
// visits only its own. A cookie is the normal world's choice; one already live for a guest is
// refused (OP-TEE does not check), and only the guest that registered a cookie can name it.
//
// An object in use (users > 0: a call in flight or suspended holds it) cannot be erased:
// erase answers kBusy, and the dispatcher turns that into TEE_ERROR_BUSY, so the secure side can
// never touch pages the normal world believes are free.
//
// Storage: a caller-sized pool of Nodes, one per object (kNodeBytes each). Not thread-safe: the
// dispatcher serialises.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/address.hpp"
#include "base/block_pool.hpp"
#include "base/btree.hpp"
#include "base/guest_id.hpp"
#include "base/result.hpp"

namespace teemm::shm {

struct ShmObject {
  GuestId guest;
  uint64_t cookie = 0;
  VirtAddr va;          // of the first page
  uint64_t offset = 0;  // of the buffer in its first page
  uint64_t size = 0;    // bytes
  uint16_t users = 0;   // calls in flight holding it

  uint64_t pages() const { return (offset + size + kPageMask) >> kPageShift; }
  VirtAddr buffer() const { return va + Size(offset); }
};

// 11 bytes, packed so that a 512-byte leaf holds 18 entries (16-byte keys would fit 15).
// `above_all` is 0 in every real key: with it, kMaxKey stays above every (guest, cookie) pair,
// the guest 0xFFFF's cookie 2^64 - 1 included.
struct [[gnu::packed]] ShmKey {
  uint16_t guest = 0;
  uint64_t cookie = 0;
  uint8_t above_all = 0;
};
static_assert(sizeof(ShmKey) == 11);

// 16 bytes: the VA with the offset in its low 12 bits; the size (48 bits) and the users (16).
struct ShmEntry {
  uint64_t va_offset = 0;
  uint64_t size_users = 0;
};

struct ShmNoAggregate {
  bool operator==(const ShmNoAggregate&) const = default;
};

struct ShmTreeTraits {
  using Key = ShmKey;
  using Value = ShmEntry;
  using Agg = ShmNoAggregate;
  static constexpr uint32_t kLeafCapacity = 18;   // 18 x (11 + 16) bytes and the count
  static constexpr uint32_t kInnerCapacity = 25;  // 25 x (11 + 8 + 1) bytes: fewer inner blocks
  static constexpr Key kMaxKey = {0xFFFF, ~uint64_t{0}, 1};
  // Cookies are often handed out in order (a counter, or addresses from one slab): appends.
  static constexpr bool kDenseFill = true;
  static bool less(const Key& a, const Key& b) {
    const bool same_guest = a.guest == b.guest;
    const bool same_cookie = a.cookie == b.cookie;
    return (a.guest < b.guest) | (same_guest & (a.cookie < b.cookie)) |
           (same_guest & same_cookie & (a.above_all < b.above_all));
  }
  static Agg entry_agg(const Key&, const Value&) { return {}; }
  static Agg combine(const Agg&, const Agg&) { return {}; }
};

class ShmRegistry {
 public:
  using Tree = BTree<ShmTreeTraits>;
  static constexpr uint64_t kMaxSize = (uint64_t{1} << 48) - 1;
  static constexpr uint16_t kMaxUsers = 0xFFFF;
  // Pool bytes per object: the tree's worst case (max_blocks(n) blocks of 512 bytes, at most n / 6
  // of them) plus alignment; checked in shm_registry.cpp.
  static constexpr size_t kNodeBytes = 88;
  using Node = PoolStorageUnit<kNodeBytes>;

  ShmRegistry() = default;
  ShmRegistry(const ShmRegistry&) = delete;
  ShmRegistry& operator=(const ShmRegistry&) = delete;

  // Up to `node_count` objects in `nodes`. Error: kInvalidArgument (null nodes with a count).
  Status init(Node* nodes, size_t node_count);

  // Errors: kOverlap (the cookie is live for that guest), kInvalidArgument (size 0 or too large,
  // offset not below a page, VA not page aligned), kOutOfMemory. Changes nothing on error.
  Status insert(const ShmObject& object);
  // Errors: kNotFound (no such cookie for that guest: other guests' cookies are invisible).
  Result<ShmObject> find(GuestId guest, uint64_t cookie) const;
  // A call starts or stops using the object. Errors: kNotFound, kLimitReached (too many users).
  Status acquire(GuestId guest, uint64_t cookie);
  Status release(GuestId guest, uint64_t cookie);
  // Errors: kNotFound, kBusy (users > 0; nothing changes).
  Status erase(GuestId guest, uint64_t cookie);

  // Calls visit(const ShmObject&) for each object of `guest`, in cookie order.
  template <typename Visitor>
  void for_each_of(GuestId guest, Visitor&& visit) const {
    Tree::Cursor at;
    if (!first_of(guest, &at)) return;
    do {
      const ShmKey key = tree_.key(at);
      if (key.guest != guest.value) return;
      visit(object_of(key, tree_.value(at)));
    } while (tree_.next(&at));
  }
  // The first object of `guest`, if any.
  Result<ShmObject> first_of(GuestId guest) const;
  // Forgets every object of `guest`, users or not (its death: the caller has unmapped them all);
  // returns how many. One descent per leaf they fill: O((k / B + 1) log n).
  size_t erase_all_of(GuestId guest);

  size_t count() const { return tree_.size(); }
  size_t capacity() const { return capacity_; }
  size_t count_of(GuestId guest) const;
  size_t blocks_in_use() const { return pool_.in_use(); }
  size_t bytes_in_use() const { return tree_.blocks() * Tree::kBlockSize; }
  bool audit() const;

 private:
  bool first_of(GuestId guest, Tree::Cursor* at) const;
  bool locate(GuestId guest, uint64_t cookie, Tree::Cursor* at) const;
  static ShmObject object_of(const ShmKey& key, const ShmEntry& entry);

  Tree tree_;
  BlockPool pool_;
  size_t capacity_ = 0;
};

}  // namespace teemm::shm
