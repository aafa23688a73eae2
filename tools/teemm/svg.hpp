// tools/teemm/svg: a picture of a session's map — the physical layout (DDR, non-secure DDR and SDP,
// what is mapped at boot, devices) beside the virtual one (the static map, its reservations and the
// live dynamic ranges), regions coloured by type, a strip showing which leaves map them (1 GiB
// blocks, 2 MiB blocks, 4 KiB pages), connectors from each mapped PA range to its VA range.
//
// The address axes are broken and log-scaled: every stretch between two region boundaries gets a
// height that grows with the logarithm of its size, and every stretch no region covers is a fixed
// break, so a 4 KiB UART and 4 GiB of DRAM are both legible, and so are 100+ regions.
#pragma once

#include <string>

#include "session.hpp"

namespace teemm::tool {

std::string render_map_svg(const Session& session);
// Writes render_map_svg to `path`; returns a one-line error or "".
std::string write_map_svg(const Session& session, const std::string& path);

}  // namespace teemm::tool
