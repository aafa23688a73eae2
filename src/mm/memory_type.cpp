// Name lookup for memory types (the table itself is constexpr in memory_type.hpp).
#include "mm/memory_type.hpp"

namespace teemm::mm {
namespace {
bool same_name(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}
}  // namespace

bool parse_memory_type(const char* name, MemoryType* out) {
  if (name == nullptr) return false;
  for (const TypeAttributes& t : kTypeAttributes) {
    if (same_name(t.name, name)) {
      *out = t.type;
      return true;
    }
  }
  return false;
}

}  // namespace teemm::mm
