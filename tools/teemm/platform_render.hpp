// tools/teemm/platform_render: a derived platform printed in the form the library takes — a
// constexpr mm::Region table like src/platform/builtin/qemu_virt.hpp's kRegions — so that a porter
// can paste it into a built-in platform.
#pragma once

#include <string>

#include "platform/host/dt_platform.hpp"

namespace teemm::tool {

// A header: the table, its count and the static_assert that validates it, in namespace
// teemm::platform::<identifier>. `command` is the command line that derived it (for the comment).
std::string render_platform_cpp(const platform::host::DtPlatform& platform, const std::string& identifier,
                                const std::string& command);

// "qemu_virt" from "qemu-virt.dtb": letters, digits and underscores, never starting with a digit.
std::string cpp_identifier(const std::string& file_name);

// The C++ enumerator of a memory type ("kTeeRamRx").
const char* memory_type_enumerator(mm::MemoryType type);

}  // namespace teemm::tool
