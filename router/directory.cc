#include "router/directory.h"

namespace xmesh::router {

ResourceEntry* UserEntry::findResource(std::string_view resource) {
  for (auto& r : resources)
    if (r.resource == resource) return &r;
  return nullptr;
}

ResourceEntry* UserEntry::findSession(const SessionRef& ref) {
  for (auto& r : resources)
    if (r.ref == ref) return &r;
  return nullptr;
}

const std::string& RosterEntry::name() const {
  static const std::string kEmpty;
  return extra ? extra->name : kEmpty;
}

const std::vector<std::string>& RosterEntry::groups() const {
  static const std::vector<std::string> kNone;
  return extra ? extra->groups : kNone;
}

void RosterEntry::setNameAndGroups(std::string name, std::vector<std::string> groups) {
  if (name.empty() && groups.empty()) {
    extra.reset();
    return;
  }
  extra = std::make_shared<const RosterExtra>(RosterExtra{std::move(name), std::move(groups)});
}

RosterEntry* UserEntry::findContact(std::string_view bare) {
  for (auto& r : roster)
    if (r.contact == bare) return &r;
  return nullptr;
}

const RosterEntry* UserEntry::findContact(std::string_view bare) const {
  for (const auto& r : roster)
    if (r.contact == bare) return &r;
  return nullptr;
}

size_t Directory::onlineUsersApprox() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    std::shared_lock lock(s.mu);
    n += s.users.size();
  }
  return n;
}

}  // namespace xmesh::router
