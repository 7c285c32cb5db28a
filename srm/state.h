// Node states and reasons of the Server Recovery Manager, exactly as the seeds' tables
// name them (seeds 003/004, "Presence Redundancy Group Node State Definitions" and
// "Node High-Availability States, Causes, and Recommended Actions"), plus the durable
// role a node keeps across restarts.
//
// Every value has two stable strings: name() is the seeds' wording, shown by /status and
// xmeshctl; slug() is a lower-case, dash-separated form for metric labels and the wire.
// Values are never renumbered or renamed: both strings are part of the admin interface.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace xmesh::srm {

enum class State : uint8_t {
  Initializing = 0,   // transient: the SRM started and has not settled yet
  Idle,               // failed over on admin request; serves nobody
  Normal,             // serves its own users
  RunningInBackupMode,// serves its peer's users (and its own)
  TakingOver,         // transition: starting to serve the peer's users
  FailingOver,        // transition: its own users are being taken over by the peer
  FailedOver,         // steady: the peer serves its users; critical services are up
  FailedOverCriticalServicesNotRunning,  // steady: as FailedOver, services are down
  FallingBack,        // transition: handing the peer's users back to the peer
  TakingBack,         // transition: taking its own users back from the peer
  RunningInFailedMode,// an error during a transition or in backup mode
  Unknown,            // not started (HA not enabled/started on this node)
  BackupActivated,    // seed table, auto-recovery: serves everyone after the backup failed
  FailoverAffectedServices,  // seed table, auto-recovery: the failed backup; serves nobody
  kCount
};

enum class Reason : uint8_t {
  None = 0,  // blank in the seeds' table (Unknown state)
  Normal,
  OnAdminRequest,
  Initialization,
  AutomaticFallback,
  CriticalServiceDown,
  DatabaseFailure,
  StartOfCriticalServicesFailed,
  PeerDown,
  PeerReboot,
  PeerDownDuringInitialization,
  TakeOverUsersFailed,  // seeds: "Cisco Server Recovery Manager Take Over Users Failed"
  TakeBackUsersFailed,  // seeds: "Cisco Server Recovery Manager Take Back Users Failed"
  Unknown,
  AutoRecoverDatabaseFailure,
  AutoRecoverCriticalServiceDown,
  kCount
};

// Where this node's users were when it last settled; persisted by the node (action
// PersistRole) and handed back to start(), so a restarted SRM comes back Idle or in
// backup mode as the seeds' restart rows require. Sent in heartbeats while initializing.
enum class Role : uint8_t {
  Home = 0,    // serves its own users (Normal)
  Idle,        // its users were moved to the peer on admin request
  FailedOver,  // its users were moved to the peer automatically
  Backup,      // it serves its peer's users
  kCount
};

std::string_view name(State s);
std::string_view name(Reason r);
std::string_view name(Role r);
std::string_view slug(State s);
std::string_view slug(Reason r);
std::string_view slug(Role r);
std::optional<State> stateFromSlug(std::string_view text);
std::optional<Reason> reasonFromSlug(std::string_view text);
std::optional<Role> roleFromSlug(std::string_view text);

// The transition states (seeds: "This is a transition state"): each has a completion
// input or a peer heartbeat that ends it, and a timeout to Running in Failed Mode.
bool isTransition(State s);

}  // namespace xmesh::srm
