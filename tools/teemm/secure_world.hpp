// tools/teemm/secure_world: a whole secure world on the host — the core's dispatcher over a
// Session's address space, with a simulated normal-world RAM — for `teemm sim`, tests and benchmarks.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "optee/dispatcher.hpp"
#include "session.hpp"
#include "shm/normal_world_memory.hpp"
#include "shm/secure_mappings.hpp"

namespace teemm::tool {

// Sparse RAM: pages appear on first write; unwritten bytes read as zero. Checked access goes
// through NormalWorldMemory (non-secure DDR only); poke/peek are the normal world's own access.
class SimulatedRam final : public shm::NormalWorldMemory {
 public:
  explicit SimulatedRam(const mm::PhysMemRegistry& registry) : NormalWorldMemory(registry) {}
  void poke(uint64_t pa, const void* in, size_t size) { raw_write(pa, in, size); }
  void peek(uint64_t pa, void* out, size_t size) const { raw_read(pa, out, size); }
  void poke_u64(uint64_t pa, uint64_t value) { poke(pa, &value, sizeof(value)); }
  uint64_t peek_u64(uint64_t pa) const {
    uint64_t value = 0;
    peek(pa, &value, sizeof(value));
    return value;
  }
  size_t pages_touched() const { return pages_.size(); }

 protected:
  void raw_read(uint64_t pa, void* out, size_t size) const override;
  void raw_write(uint64_t pa, const void* in, size_t size) override;

 private:
  using Page = std::array<unsigned char, kPageSize>;
  std::unordered_map<uint64_t, std::unique_ptr<Page>> pages_;
};

struct SecureWorldOptions {
  optee::DispatcherConfig config;
  size_t threads = 4;
  size_t guests = 16;
  size_t sessions = 64;
  size_t objects = 16384;            // registered buffers, all guests together
  size_t max_buffer_pages = 262144;  // the longest page list one REGISTER_SHM may carry (1 GiB)
};

class SecureWorld {
 public:
  SecureWorld(Session& session, const SecureWorldOptions& options);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  optee::SmcArgs smc(const optee::SmcArgs& in) { return dispatcher_.handle(in); }
  optee::Dispatcher& dispatcher() { return dispatcher_; }
  const optee::Dispatcher& dispatcher() const { return dispatcher_; }
  SimulatedRam& ram() { return ram_; }
  Session& session() { return session_; }

 private:
  Session& session_;
  std::string error_;
  SimulatedRam ram_;
  shm::WalkedMappings mappings_;
  std::vector<virt::Guest> guests_;
  std::vector<optee::ThreadContext> threads_;
  std::vector<optee::Session> sessions_;
  std::vector<shm::ShmRegistry::Node> shm_nodes_;
  std::vector<PhysAddr> page_scratch_;
  std::vector<PhysAddr> list_scratch_;
  optee::Dispatcher dispatcher_;
};

// ---- The normal world's side, for scenarios and tests ---------------------------------------------
// Writes `pages` as a chain of list pages starting at `list_pa` (consecutive 4 KiB pages) and
// returns tmem.buf_ptr for a buffer at `offset` into its first page.
uint64_t write_page_list(SimulatedRam& ram, uint64_t list_pa, const std::vector<uint64_t>& pages, uint64_t offset = 0);
// Writes a message (header and parameters) at `pa`.
void write_message(SimulatedRam& ram, uint64_t pa, const optee::MsgArg& message);
optee::MsgArg read_message(const SimulatedRam& ram, uint64_t pa);

}  // namespace teemm::tool
