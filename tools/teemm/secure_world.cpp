// A host secure world (see secure_world.hpp).
#include "secure_world.hpp"

#include <cstring>

namespace teemm::tool {

void SimulatedRam::raw_read(uint64_t pa, void* out, size_t size) const {
  auto* bytes = static_cast<unsigned char*>(out);
  for (size_t done = 0; done < size;) {
    const uint64_t at = pa + done;
    const size_t offset = at & kPageMask;
    const size_t n = size - done < kPageSize - offset ? size - done : kPageSize - offset;
    const auto it = pages_.find(at & ~kPageMask);
    if (it == pages_.end())
      std::memset(bytes + done, 0, n);
    else
      std::memcpy(bytes + done, it->second->data() + offset, n);
    done += n;
  }
}

void SimulatedRam::raw_write(uint64_t pa, const void* in, size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(in);
  for (size_t done = 0; done < size;) {
    const uint64_t at = pa + done;
    const size_t offset = at & kPageMask;
    const size_t n = size - done < kPageSize - offset ? size - done : kPageSize - offset;
    std::unique_ptr<Page>& page = pages_[at & ~kPageMask];
    if (!page) page = std::make_unique<Page>(Page{});
    std::memcpy(page->data() + offset, bytes + done, n);
    done += n;
  }
}

SecureWorld::SecureWorld(Session& session, const SecureWorldOptions& options)
    : session_(session),
      ram_(session.registry()),
      mappings_(session.space(), ram_),
      guests_(options.guests),
      threads_(options.threads),
      sessions_(options.sessions),
      shm_nodes_(options.objects),
      page_scratch_(options.max_buffer_pages),
      list_scratch_(shm::PageListScratch::list_pages_for(options.max_buffer_pages)) {
  if (!session.ok()) {
    error_ = session.error();
    return;
  }
  optee::DispatcherStorage storage;
  storage.guests = guests_.data();
  storage.guest_capacity = guests_.size();
  storage.threads = threads_.data();
  storage.thread_count = threads_.size();
  storage.sessions = sessions_.data();
  storage.session_capacity = sessions_.size();
  storage.shm_nodes = shm_nodes_.data();
  storage.shm_node_count = shm_nodes_.size();
  storage.page_scratch = page_scratch_.data();
  storage.page_scratch_count = page_scratch_.size();
  storage.list_scratch = list_scratch_.data();
  storage.list_scratch_count = list_scratch_.size();
  if (Status s = dispatcher_.init(session.space(), ram_, mappings_, options.config, storage); !s)
    error_ = std::string("dispatcher: ") + error_name(s.error());
}

uint64_t write_page_list(SimulatedRam& ram, uint64_t list_pa, const std::vector<uint64_t>& pages, uint64_t offset) {
  uint64_t list = list_pa;
  for (size_t first = 0; first < pages.size(); first += optee::kPagesPerListPage) {
    const size_t n = pages.size() - first < optee::kPagesPerListPage ? pages.size() - first : optee::kPagesPerListPage;
    ram.poke(list, pages.data() + first, n * sizeof(uint64_t));
    const uint64_t next = list + kPageSize;
    ram.poke_u64(list + optee::kPagesPerListPage * sizeof(uint64_t), first + n < pages.size() ? next : 0);
    list = next;
  }
  return list_pa | (offset & kPageMask);
}

void write_message(SimulatedRam& ram, uint64_t pa, const optee::MsgArg& message) {
  ram.poke(pa, &message, optee::message_bytes(message.num_params <= optee::kMaxParams ? message.num_params : 0));
}

optee::MsgArg read_message(const SimulatedRam& ram, uint64_t pa) {
  optee::MsgArg message;
  ram.peek(pa, &message, optee::kMsgHeaderSize);
  const uint32_t params = message.num_params <= optee::kMaxParams ? message.num_params : 0;
  ram.peek(pa + optee::kMsgHeaderSize, message.params, params * optee::kMsgParamSize);
  return message;
}

}  // namespace teemm::tool
