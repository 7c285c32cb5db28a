#include "router/deferred_offline.h"

#include <algorithm>

namespace xmesh::router {

void DeferredOfflineWrites::keep(const std::string& user, Held h) {
  users_[user].messages.push_back(std::move(h));
  ++held_;
}

std::vector<DeferredOfflineWrites::Batch> DeferredOfflineWrites::takeDue() {
  std::vector<Batch> due;
  for (auto& [user, q] : users_) {
    if (q.inFlight) continue;
    q.inFlight = true;
    due.push_back({user, {q.messages.begin(), q.messages.end()}});
  }
  return due;
}

void DeferredOfflineWrites::done(const std::string& user, size_t handled) {
  auto it = users_.find(user);
  if (it == users_.end()) return;
  Queue& q = it->second;
  handled = std::min(handled, q.messages.size());
  q.messages.erase(q.messages.begin(), q.messages.begin() + static_cast<std::ptrdiff_t>(handled));
  held_ -= handled;
  q.inFlight = false;
  if (q.messages.empty()) users_.erase(it);
}

}  // namespace xmesh::router
