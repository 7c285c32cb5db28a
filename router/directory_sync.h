// Directory sync over the mesh (SPEC §5): every node announces the users it homes to
// every other node, and applies the others' announcements to its HomeDirectory.
//
// Records (r2r control kind `dir`, see r2r/PROTOCOL.md §3.5):
//   <m:dir op='begin' home='n1' gen='G' count='N'/>    a full sync of n1's users starts
//   <m:dir op='add' home='n1' [gen='G']>u1 u2 …</m:dir>  these users are homed on n1
//   <m:dir op='end' home='n1' gen='G'/>                the full sync is complete: the
//                                                      receiver drops n1's users it did
//                                                      not hear about in sync G
//   <m:dir op='remove' home='n1'>u1 …</m:dir>          no longer homed on n1
// Users are local parts (the mesh serves one domain). A node speaks only for itself:
// `home` must be the sending node, or the record is refused.
//
// A full sync goes to a peer when the link first comes up and whenever the peer does not
// know our incarnation (it restarted, or we did). It is streamed from a snapshot in
// batches, a few per timer tick (pump()), so a large initial sync never starves routing
// on the mesh loop and back-pressure (a Full link) just pauses it. Changes in between go
// out at once as incremental add/remove records, and a full sync in progress restarts
// from a fresh snapshot, so no record can re-add a user removed after its snapshot.
//
// Single-threaded: lives on the mesh loop.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "r2r/link.h"
#include "router/home_directory.h"
#include "topology/topology.h"

namespace xmesh::router {

struct PeerSyncStatus {
  // Outbound: our users to the peer.
  bool sending = false;
  size_t sentUsers = 0, totalUsers = 0;  // of the full sync in progress (or the last one)
  uint64_t fullSyncsSent = 0;
  // Inbound: the peer's users.
  bool receivedComplete = false;  // a full sync from the peer has ended
  size_t receivedUsers = 0;       // users announced in the peer's current full sync
  uint64_t fullSyncsReceived = 0;
  uint64_t refused = 0;           // records refused (home not the sender, bad op)
};

class DirectorySync {
 public:
  using NodeIndex = topology::NodeIndex;
  using LinkOf = std::function<r2r::Link*(NodeIndex)>;

  DirectorySync(const topology::Topology& topology, NodeIndex self, HomeDirectory& homes,
                LinkOf linkOf, size_t batchUsers = 1000);

  // The users homed on this node now (any order). Incremental changes go to every peer.
  void setOwnUsers(std::vector<std::string> users);
  const std::vector<std::string>& ownUsers() const { return *own_; }

  // The link to `peer` is established; `fullSync`: the peer does not know us (first
  // contact, or either side restarted) and gets every user again.
  void onEstablished(NodeIndex peer, bool fullSync);
  // Sends up to `budget` batches of pending full syncs; returns the number sent.
  size_t pump(size_t budget);
  bool pumping() const;

  // A `dir` record from `peer`. An error means the record was refused (logged by caller).
  Status onRecord(NodeIndex peer, const r2r::Unit& record);

  const PeerSyncStatus& status(NodeIndex peer) const { return peers_[peer].status; }
  // Every peer has completed a full sync to us since start.
  bool complete() const;

 private:
  struct Peer {
    // Outbound full sync in progress.
    std::shared_ptr<const std::vector<std::string>> snapshot;
    size_t cursor = 0;
    uint32_t gen = 0;
    bool beginSent = false;
    // Inbound: the generation of the peer's current full sync.
    uint32_t inGen = 0;
    PeerSyncStatus status;
  };
  void startFullSync(NodeIndex peer);
  bool sendRecord(NodeIndex peer, std::string_view op, uint32_t gen, bool withGen,
                  std::string_view text, size_t count = 0);
  void sendIncremental(std::string_view op, const std::vector<std::string>& users);

  const topology::Topology& topology_;
  const NodeIndex self_;
  HomeDirectory& homes_;
  LinkOf linkOf_;
  const size_t batchUsers_;
  std::vector<Peer> peers_;  // by NodeIndex (self unused)
  std::shared_ptr<const std::vector<std::string>> own_;
  uint32_t nextGen_;
  bool initialized_ = false;
};

}  // namespace xmesh::router
