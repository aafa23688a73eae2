// base/guest_id: the identity of a guest (a normal-world VM) as the secure world sees it.
//
// Guest ids travel in a7 of an SMC; 0 is the hypervisor itself (or the only normal world when no
// hypervisor runs). Every dynamic object in teemm records the guest that owns it.
#pragma once

#include <compare>
#include <cstdint>

namespace teemm {

struct GuestId {
  uint16_t value = 0;

  constexpr GuestId() = default;
  constexpr explicit GuestId(uint16_t v) : value(v) {}
  constexpr auto operator<=>(const GuestId&) const = default;
  constexpr bool is_hypervisor() const { return value == 0; }
};

inline constexpr GuestId kHypervisorGuest{0};

}  // namespace teemm
