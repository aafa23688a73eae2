// Registered shared-memory objects (see shm_registry.hpp).
#include "shm/shm_registry.hpp"

namespace teemm::shm {
namespace {

constexpr uint64_t kSizeMask = ShmRegistry::kMaxSize;
constexpr unsigned kUsersShift = 48;

constexpr bool pool_fits(size_t entries) {
  return BlockPool::blocks_in(entries * sizeof(ShmRegistry::Node), ShmRegistry::Tree::kBlockSize) >=
         ShmRegistry::Tree::max_blocks(entries);
}
constexpr bool pool_fits_up_to(size_t last) {
  for (size_t n = 1; n <= last; ++n)
    if (!pool_fits(n)) return false;
  return true;
}
// Beyond this, max_blocks(n) <= n / 7 + 3 and 512 (n / 7 + 3) + 63 <= 88 n.
static_assert(pool_fits_up_to(4096));
static_assert(ShmRegistry::Tree::kLeafMin == 9 && ShmRegistry::Tree::kInnerMin == 12);

uint16_t users_of(const ShmEntry& entry) { return static_cast<uint16_t>(entry.size_users >> kUsersShift); }
void set_users(ShmEntry& entry, uint16_t users) {
  entry.size_users = (entry.size_users & kSizeMask) | (uint64_t{users} << kUsersShift);
}

}  // namespace

Status ShmRegistry::init(Node* nodes, size_t node_count) {
  if (nodes == nullptr && node_count != 0) return Error::kInvalidArgument;
  pool_.init(nodes, node_count * sizeof(Node), Tree::kBlockSize);
  tree_.reset(&pool_);
  capacity_ = node_count;
  return Status();
}

ShmObject ShmRegistry::object_of(const ShmKey& key, const ShmEntry& entry) {
  ShmObject object;
  object.guest = GuestId(key.guest);
  object.cookie = key.cookie;
  object.va = VirtAddr(entry.va_offset & ~kPageMask);
  object.offset = entry.va_offset & kPageMask;
  object.size = entry.size_users & kSizeMask;
  object.users = users_of(entry);
  return object;
}

bool ShmRegistry::locate(GuestId guest, uint64_t cookie, Tree::Cursor* at) const {
  const ShmKey key{guest.value, cookie};
  if (!tree_.find_le(key, at)) return false;
  const ShmKey found = tree_.key(*at);
  return found.guest == key.guest && found.cookie == key.cookie;
}

bool ShmRegistry::first_of(GuestId guest, Tree::Cursor* at) const {
  // The last key <= (guest, 0) is either (guest, 0) itself or lies below: then the next one is the
  // first candidate. With no such key, the very first entry is.
  const ShmKey start{guest.value, 0};
  if (tree_.find_le(start, at)) {
    const ShmKey found = tree_.key(*at);
    if (!(found.guest == start.guest && found.cookie == 0) && !tree_.next(at)) return false;
  } else if (!tree_.first(at)) {
    return false;
  }
  return tree_.key(*at).guest == guest.value;
}

Result<ShmObject> ShmRegistry::first_of(GuestId guest) const {
  Tree::Cursor at;
  if (!first_of(guest, &at)) return Error::kNotFound;
  return object_of(tree_.key(at), tree_.value(at));
}

// A guest's objects sit side by side in key order: erased a leaf's run at a time.
size_t ShmRegistry::erase_all_of(GuestId guest) {
  return tree_.erase_range(ShmKey{guest.value, 0, 0}, ShmKey{guest.value, ~uint64_t{0}, 1});
}

size_t ShmRegistry::count_of(GuestId guest) const {
  size_t n = 0;
  for_each_of(guest, [&](const ShmObject&) { ++n; });
  return n;
}

Status ShmRegistry::insert(const ShmObject& object) {
  if (object.size == 0 || object.size > kMaxSize || object.offset > kPageMask || !object.va.is_page_aligned())
    return Error::kInvalidArgument;
  Tree::Cursor at;
  if (locate(object.guest, object.cookie, &at)) return Error::kOverlap;
  if (tree_.size() >= capacity_) return Error::kOutOfMemory;
  ShmEntry entry;
  entry.va_offset = object.va.value | object.offset;
  entry.size_users = object.size;
  set_users(entry, object.users);
  if (!tree_.insert(ShmKey{object.guest.value, object.cookie}, entry)) return Error::kOutOfMemory;
  return Status();
}

Result<ShmObject> ShmRegistry::find(GuestId guest, uint64_t cookie) const {
  Tree::Cursor at;
  if (!locate(guest, cookie, &at)) return Error::kNotFound;
  return object_of(tree_.key(at), tree_.value(at));
}

Status ShmRegistry::acquire(GuestId guest, uint64_t cookie) {
  Tree::Cursor at;
  if (!locate(guest, cookie, &at)) return Error::kNotFound;
  ShmEntry& entry = tree_.value(at);
  if (users_of(entry) == kMaxUsers) return Error::kLimitReached;
  set_users(entry, static_cast<uint16_t>(users_of(entry) + 1));
  return Status();
}

Status ShmRegistry::release(GuestId guest, uint64_t cookie) {
  Tree::Cursor at;
  if (!locate(guest, cookie, &at)) return Error::kNotFound;
  ShmEntry& entry = tree_.value(at);
  if (users_of(entry) == 0) return Error::kInvalidArgument;
  set_users(entry, static_cast<uint16_t>(users_of(entry) - 1));
  return Status();
}

Status ShmRegistry::erase(GuestId guest, uint64_t cookie) {
  Tree::Cursor at;
  if (!locate(guest, cookie, &at)) return Error::kNotFound;
  if (users_of(tree_.value(at)) != 0) return Error::kBusy;
  tree_.erase(at);
  return Status();
}

bool ShmRegistry::audit() const {
  return tree_.audit() && pool_.audit() && pool_.in_use() == tree_.blocks() && tree_.size() <= capacity_;
}

}  // namespace teemm::shm
