// Maps between the store's roster rows and the directory's cached roster entries.
#pragma once
#include "router/directory.h"
#include "store/store.h"

namespace xmesh::router {

inline roster::Sub toRosterSub(store::Sub s) {
  switch (s) {
    case store::Sub::None: return roster::Sub::None;
    case store::Sub::To: return roster::Sub::To;
    case store::Sub::From: return roster::Sub::From;
    case store::Sub::Both: return roster::Sub::Both;
  }
  return roster::Sub::None;
}

inline store::Sub toStoreSub(roster::Sub s) {
  switch (s) {
    case roster::Sub::None: return store::Sub::None;
    case roster::Sub::To: return store::Sub::To;
    case roster::Sub::From: return store::Sub::From;
    case roster::Sub::Both: return store::Sub::Both;
  }
  return store::Sub::None;
}

inline RosterEntry fromStoreItem(const store::RosterItem& i) {
  RosterEntry e;
  e.contact = InternedJid(i.contact);
  e.state.sub = toRosterSub(i.sub);
  e.state.askOut = i.askOut;
  e.state.pendingIn = i.pendingIn;
  e.setNameAndGroups(i.name, i.groups);
  // A row that only remembers a pending inbound request is not a visible roster item.
  e.state.exists = !(i.sub == store::Sub::None && !i.askOut && i.pendingIn && i.name.empty() &&
                     i.groups.empty());
  return e;
}

inline store::RosterItem toStoreItem(const RosterEntry& e) {
  store::RosterItem i;
  i.contact = e.contact.str();
  i.name = e.name();
  i.sub = toStoreSub(e.state.sub);
  i.askOut = e.state.askOut;
  i.pendingIn = e.state.pendingIn;
  i.groups = e.groups();
  return i;
}

}  // namespace xmesh::router
