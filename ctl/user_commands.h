// The `xmeshctl user ...` commands: each takes an open store, does one thing and
// returns a Status; main.cc turns a failure into exit code 2 and a one-line message.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>

#include "core/status.h"
#include "store/store.h"

namespace xmesh::ctl {

// Usernames are nodeprepped before use, so `user add Alice` creates "alice", the
// name the server looks up when Alice logs in.
Status addUser(store::Store& st, const std::string& name, const std::string& password, uint32_t iterations);
Status setPassword(store::Store& st, const std::string& name, const std::string& password, uint32_t iterations);
Status removeUser(store::Store& st, const std::string& name);
Status setHome(store::Store& st, const std::string& name, const std::string& node);
// One username per line, in byte order.
Status listUsers(store::Store& st, std::ostream& out);
Status countUsers(store::Store& st, std::ostream& out);
// Account facts without any secret material (not even salts or stored keys).
Status showUser(store::Store& st, const std::string& name, std::ostream& out);

}  // namespace xmesh::ctl
