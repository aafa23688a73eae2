// tools/teemm/render: what the CLI prints — the map as a table or JSON, the descriptor dump, and
// translations. Pure functions from a session to text, so tests can check the output.
#pragma once

#include <cstdint>
#include <string>

#include "session.hpp"

namespace teemm::tool {

std::string render_map_text(const Session& session);
std::string render_map_json(const Session& session);
std::string render_dump(const Session& session);
std::string render_translation_text(const Session& session, uint64_t va);
std::string render_translation_json(const Session& session, uint64_t va);

// "r-x"-style summary of access rights, and "normal-wb" / "device" / "normal-nc" names.
std::string access_string(const arm64::Access& access);
const char* memory_kind_name(arm64::MemoryKind kind);
// 64 MiB, 1.5 MiB, 4 KiB, 12 B.
std::string human_size(uint64_t bytes);
std::string hex(uint64_t value);

}  // namespace teemm::tool
