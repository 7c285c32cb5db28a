#include "loadgen/tls_session_cache.h"

#include <utility>

namespace xmesh::loadgen {

TlsSessionCache::TlsSessionCache(uint32_t firstUser, uint32_t users)
    : firstUser_(firstUser), slots_(users) {}

bssl::UniquePtr<SSL_SESSION>* TlsSessionCache::slot(uint32_t user) {
  if (user < firstUser_ || user - firstUser_ >= slots_.size()) return nullptr;
  return &slots_[user - firstUser_];
}

bssl::UniquePtr<SSL_SESSION> TlsSessionCache::take(uint32_t user) {
  auto* s = slot(user);
  if (s == nullptr || !*s) return nullptr;
  if (SSL_SESSION_should_be_single_use(s->get())) {
    --held_;
    return std::move(*s);
  }
  SSL_SESSION_up_ref(s->get());
  return bssl::UniquePtr<SSL_SESSION>(s->get());
}

void TlsSessionCache::store(uint32_t user, bssl::UniquePtr<SSL_SESSION> session) {
  auto* s = slot(user);
  if (s == nullptr || !session || !SSL_SESSION_is_resumable(session.get())) return;
  if (!*s) ++held_;
  *s = std::move(session);
}

}  // namespace xmesh::loadgen
