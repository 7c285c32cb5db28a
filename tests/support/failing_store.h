// A Store that forwards to a real one until told to fail, then answers the chosen
// operations (every one when none is named) with an error of the chosen reason, the way
// a database that went away does ("unavailable", "busy", "io"; store/store.h). For the
// tests of what the node does while its database is down (issue 6).
#pragma once
#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/store.h"

namespace xmesh::testing {

class FailingStore final : public store::Store {
 public:
  explicit FailingStore(store::Store& inner) : inner_(inner) {}

  // `ops` are method names ("getUser", "pushOffline", ...); empty: all of them.
  void failWith(std::string reason, std::set<std::string, std::less<>> ops = {}) {
    reason_ = std::move(reason);
    ops_ = std::move(ops);
  }
  void heal() { failWith({}); }
  // Heals by itself after `n` more injected failures (a database that comes back).
  void healAfter(size_t n) { healAfter_ = n; }
  size_t failures() const { return failures_; }

  Result<std::optional<store::UserRecord>> getUser(std::string_view u) override {
    if (auto e = fault("getUser")) return *e;
    return inner_.getUser(u);
  }
  Status addUser(const store::UserRecord& u) override {
    if (auto e = fault("addUser")) return failed(*e);
    return inner_.addUser(u);
  }
  Status removeUser(std::string_view u) override {
    if (auto e = fault("removeUser")) return failed(*e);
    return inner_.removeUser(u);
  }
  Status setSecrets(std::string_view u, const sasl::StoredSecrets& s) override {
    if (auto e = fault("setSecrets")) return failed(*e);
    return inner_.setSecrets(u, s);
  }
  Status setHomeNode(std::string_view u, std::string_view node) override {
    if (auto e = fault("setHomeNode")) return failed(*e);
    return inner_.setHomeNode(u, node);
  }
  Result<std::vector<std::string>> listUsers(size_t limit, std::string_view after) override {
    if (auto e = fault("listUsers")) return *e;
    return inner_.listUsers(limit, after);
  }
  Result<uint64_t> countUsers() override {
    if (auto e = fault("countUsers")) return *e;
    return inner_.countUsers();
  }
  Result<std::vector<store::UserHomeRow>> listHomes(size_t limit, std::string_view after) override {
    if (auto e = fault("listHomes")) return *e;
    return inner_.listHomes(limit, after);
  }
  Result<int64_t> directoryVersion() override {
    if (auto e = fault("directoryVersion")) return *e;
    return inner_.directoryVersion();
  }
  Result<std::vector<store::RosterItem>> getRoster(std::string_view u) override {
    if (auto e = fault("getRoster")) return *e;
    return inner_.getRoster(u);
  }
  Status putRosterItem(std::string_view u, const store::RosterItem& item) override {
    if (auto e = fault("putRosterItem")) return failed(*e);
    return inner_.putRosterItem(u, item);
  }
  Status removeRosterItem(std::string_view u, std::string_view contact) override {
    if (auto e = fault("removeRosterItem")) return failed(*e);
    return inner_.removeRosterItem(u, contact);
  }
  Result<int64_t> pushOffline(std::string_view u, std::string_view bytes, int64_t nowMs,
                              size_t maxPerUser) override {
    if (auto e = fault("pushOffline")) return *e;
    return inner_.pushOffline(u, bytes, nowMs, maxPerUser);
  }
  Result<std::vector<store::OfflineMessage>> peekOffline(std::string_view u, size_t limit) override {
    if (auto e = fault("peekOffline")) return *e;
    return inner_.peekOffline(u, limit);
  }
  Status deleteOffline(std::string_view u, const std::vector<int64_t>& ids) override {
    if (auto e = fault("deleteOffline")) return failed(*e);
    return inner_.deleteOffline(u, ids);
  }
  Status importBatch(const std::vector<store::UserRecord>& users,
                     const std::vector<std::pair<std::string, store::RosterItem>>& rows) override {
    if (auto e = fault("importBatch")) return failed(*e);
    return inner_.importBatch(users, rows);
  }
  Status putNodeStatus(const store::NodeStatusRow& row) override {
    if (auto e = fault("putNodeStatus")) return failed(*e);
    return inner_.putNodeStatus(row);
  }
  Result<std::optional<store::NodeStatusRow>> getNodeStatus(std::string_view node) override {
    if (auto e = fault("getNodeStatus")) return *e;
    return inner_.getNodeStatus(node);
  }
  Result<std::vector<store::NodeStatusRow>> listNodeStatus() override {
    if (auto e = fault("listNodeStatus")) return *e;
    return inner_.listNodeStatus();
  }
  Status healthCheck() override {
    if (auto e = fault("healthCheck")) return failed(*e);
    return inner_.healthCheck();
  }

 private:
  std::optional<Error> fault(std::string_view op) {
    if (reason_.empty() || (!ops_.empty() && !ops_.contains(op))) return std::nullopt;
    ++failures_;
    Error e{reason_, "injected failure of " + std::string(op)};
    if (healAfter_ && --*healAfter_ == 0) {
      healAfter_.reset();
      heal();
    }
    return e;
  }
  static Status failed(const Error& e) { return Status::fail(e.reason, e.detail); }

  store::Store& inner_;
  std::string reason_;  // "" = healthy
  std::set<std::string, std::less<>> ops_;
  size_t failures_ = 0;
  std::optional<size_t> healAfter_;
};

}  // namespace xmesh::testing
