#include "router/directory_sync.h"

#include <algorithm>
#include <charconv>
#include <random>

#include "core/log.h"

namespace xmesh::router {
namespace {

std::vector<std::string_view> splitWords(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\n' && text[i] != '\t' && text[i] != '\r') ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

bool parseU32(std::string_view s, uint32_t* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

DirectorySync::DirectorySync(const topology::Topology& topology, NodeIndex self, HomeDirectory& homes,
                             LinkOf linkOf, size_t batchUsers)
    : topology_(topology),
      self_(self),
      homes_(homes),
      linkOf_(std::move(linkOf)),
      batchUsers_(std::max<size_t>(1, batchUsers)),
      peers_(topology.nodes().size()),
      own_(std::make_shared<const std::vector<std::string>>()),
      // Generations only need to differ from this node's earlier incarnations' (whose
      // entries a receiver may still hold): start at a random point.
      nextGen_(std::random_device{}() | 1u) {}

void DirectorySync::setOwnUsers(std::vector<std::string> users) {
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  const std::vector<std::string>& old = *own_;
  std::vector<std::string> added, removed;
  std::set_difference(users.begin(), users.end(), old.begin(), old.end(), std::back_inserter(added));
  std::set_difference(old.begin(), old.end(), users.begin(), users.end(), std::back_inserter(removed));
  bool first = initialized_ == false;
  initialized_ = true;
  own_ = std::make_shared<const std::vector<std::string>>(std::move(users));
  for (const auto& u : added) homes_.set(u, self_, 0);
  for (const auto& u : removed) homes_.removeIf(u, self_);
  // The first set is announced by the full syncs every link starts with.
  if (first || (added.empty() && removed.empty())) return;
  sendIncremental("add", added);
  sendIncremental("remove", removed);
  for (NodeIndex p = 0; p < peers_.size(); ++p)
    if (peers_[p].snapshot) startFullSync(p);  // its snapshot is stale now
}

void DirectorySync::sendIncremental(std::string_view op, const std::vector<std::string>& users) {
  for (NodeIndex p = 0; p < peers_.size(); ++p) {
    if (p == self_) continue;
    for (size_t i = 0; i < users.size(); i += batchUsers_) {
      std::string text;
      for (size_t j = i; j < std::min(users.size(), i + batchUsers_); ++j) {
        if (j > i) text += ' ';
        text += users[j];
      }
      if (!sendRecord(p, op, 0, false, text)) {
        // The link is full: a fresh full sync (with its sweep) catches the peer up later.
        startFullSync(p);
        break;
      }
    }
  }
}

void DirectorySync::onEstablished(NodeIndex peer, bool fullSync) {
  if (peer >= peers_.size() || peer == self_) return;
  if (fullSync) startFullSync(peer);
}

void DirectorySync::startFullSync(NodeIndex peer) {
  Peer& p = peers_[peer];
  p.snapshot = own_;
  p.cursor = 0;
  p.gen = nextGen_++;
  p.beginSent = false;
  p.status.sending = true;
  p.status.sentUsers = 0;
  p.status.totalUsers = own_->size();
}

bool DirectorySync::pumping() const {
  return std::any_of(peers_.begin(), peers_.end(), [](const Peer& p) { return p.snapshot != nullptr; });
}

size_t DirectorySync::pump(size_t budget) {
  size_t sent = 0;
  bool progress = true;
  // Round-robin, one batch per peer per pass, so every peer's sync advances evenly.
  while (sent < budget && progress) {
    progress = false;
    for (NodeIndex i = 0; i < peers_.size() && sent < budget; ++i) {
      Peer& p = peers_[i];
      if (!p.snapshot) continue;
      r2r::Link* link = linkOf_(i);
      if (!link || link->state() != r2r::LinkState::Established) continue;
      const auto& users = *p.snapshot;
      if (!p.beginSent) {
        if (!sendRecord(i, "begin", p.gen, true, {}, users.size())) continue;
        p.beginSent = true;
      }
      if (p.cursor < users.size()) {
        size_t end = std::min(users.size(), p.cursor + batchUsers_);
        std::string text;
        for (size_t j = p.cursor; j < end; ++j) {
          if (j > p.cursor) text += ' ';
          text += users[j];
        }
        if (!sendRecord(i, "add", p.gen, true, text)) continue;
        p.status.sentUsers += end - p.cursor;
        p.cursor = end;
        ++sent;
        progress = true;
        continue;
      }
      if (!sendRecord(i, "end", p.gen, true, {})) continue;
      p.snapshot.reset();
      p.status.sending = false;
      ++p.status.fullSyncsSent;
      progress = true;
    }
  }
  return sent;
}

bool DirectorySync::sendRecord(NodeIndex peer, std::string_view op, uint32_t gen, bool withGen,
                               std::string_view text, size_t count) {
  r2r::Link* link = linkOf_(peer);
  if (!link) return false;
  std::vector<r2r::Attr> attrs{{"op", std::string(op)}, {"home", topology_.node(self_).id}};
  if (withGen) attrs.emplace_back("gen", std::to_string(gen));
  if (op == "begin") attrs.emplace_back("count", std::to_string(count));
  return link->sendControl("dir", attrs, text) == r2r::SendResult::Queued;
}

Status DirectorySync::onRecord(NodeIndex peer, const r2r::Unit& record) {
  if (peer >= peers_.size() || peer == self_) return Status::fail("dir-refused", "not a peer");
  Peer& p = peers_[peer];
  auto refuse = [&](std::string detail) {
    ++p.status.refused;
    return Status::fail("dir-refused", std::move(detail));
  };
  std::string_view op = record.attr("op");
  std::string_view home = record.attr("home");
  if (home != topology_.node(peer).id)
    return refuse("node " + topology_.node(peer).id + " announced users of '" + std::string(home) + "'");
  uint32_t gen = p.inGen;
  std::string_view genText = record.attr("gen");
  if (!genText.empty() && !parseU32(genText, &gen)) return refuse("bad gen '" + std::string(genText) + "'");
  if (op == "begin") {
    p.inGen = gen;
    p.status.receivedUsers = 0;
    return Status::ok();
  }
  if (op == "end") {
    if (gen != p.inGen) return Status::ok();  // an older, superseded sync
    // Everything the directory holds for the peer was confirmed by this sync unless the
    // counts differ: only then walk the directory for stale entries.
    size_t dropped = homes_.countHomedOn(peer) == p.status.receivedUsers ? 0 : homes_.sweep(peer, gen);
    p.status.receivedComplete = true;
    ++p.status.fullSyncsReceived;
    log::info("mesh", "directory-sync-received",
              {{"peer", std::string(home)}, {"users", std::to_string(p.status.receivedUsers)},
               {"dropped", std::to_string(dropped)}});
    return Status::ok();
  }
  if (op != "add" && op != "remove") return refuse("unknown op '" + std::string(op) + "'");
  size_t skipped = 0;
  for (std::string_view user : splitWords(record.text)) {
    // A node cannot claim users this node homes.
    if (std::binary_search(own_->begin(), own_->end(), user)) {
      ++skipped;
      continue;
    }
    if (op == "add") {
      if (homes_.set(user, peer, gen) && gen == p.inGen) ++p.status.receivedUsers;
    } else {
      homes_.removeIf(user, peer);
    }
  }
  if (skipped) return refuse(std::to_string(skipped) + " users claimed that this node homes");
  return Status::ok();
}

bool DirectorySync::complete() const {
  for (NodeIndex i = 0; i < peers_.size(); ++i)
    if (i != self_ && !peers_[i].status.receivedComplete) return false;
  return true;
}

}  // namespace xmesh::router
