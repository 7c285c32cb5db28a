#include "srm/state.h"

#include <array>
#include <cstddef>

namespace xmesh::srm {
namespace {

constexpr size_t kStates = static_cast<size_t>(State::kCount);
constexpr size_t kReasons = static_cast<size_t>(Reason::kCount);
constexpr size_t kRoles = static_cast<size_t>(Role::kCount);

constexpr std::array<std::string_view, kStates> kStateNames{
    "Initializing", "Idle", "Normal", "Running in Backup Mode", "Taking Over",
    "Failing Over", "Failed Over", "Failed Over with Critical Services Not Running",
    "Falling Back", "Taking Back", "Running in Failed Mode", "Unknown", "Backup Activated",
    "Failover Affected Services"};
constexpr std::array<std::string_view, kStates> kStateSlugs{
    "initializing", "idle", "normal", "running-in-backup-mode", "taking-over",
    "failing-over", "failed-over", "failed-over-critical-services-not-running",
    "falling-back", "taking-back", "running-in-failed-mode", "unknown", "backup-activated",
    "failover-affected-services"};

constexpr std::array<std::string_view, kReasons> kReasonNames{
    "", "Normal", "On Admin Request", "Initialization", "Automatic Fallback",
    "Critical Service Down", "Database Failure", "Start of Critical Services Failed",
    "Peer Down", "Peer Reboot", "Peer Down During Initialization",
    "Take Over Users Failed", "Take Back Users Failed", "Unknown",
    "Auto Recover Database Failure", "Auto Recover Critical Service Down"};
constexpr std::array<std::string_view, kReasons> kReasonSlugs{
    "none", "normal", "on-admin-request", "initialization", "automatic-fallback",
    "critical-service-down", "database-failure", "start-of-critical-services-failed",
    "peer-down", "peer-reboot", "peer-down-during-initialization",
    "take-over-users-failed", "take-back-users-failed", "unknown",
    "auto-recover-database-failure", "auto-recover-critical-service-down"};

constexpr std::array<std::string_view, kRoles> kRoleNames{"Home", "Idle", "Failed Over",
                                                          "Backup"};
constexpr std::array<std::string_view, kRoles> kRoleSlugs{"home", "idle", "failed-over",
                                                          "backup"};

template <typename E, size_t N>
std::optional<E> fromSlug(const std::array<std::string_view, N>& slugs, std::string_view text) {
  for (size_t i = 0; i < N; ++i) {
    if (slugs[i] == text) return static_cast<E>(i);
  }
  return std::nullopt;
}

}  // namespace

std::string_view name(State s) { return kStateNames[static_cast<size_t>(s)]; }
std::string_view name(Reason r) { return kReasonNames[static_cast<size_t>(r)]; }
std::string_view name(Role r) { return kRoleNames[static_cast<size_t>(r)]; }
std::string_view slug(State s) { return kStateSlugs[static_cast<size_t>(s)]; }
std::string_view slug(Reason r) { return kReasonSlugs[static_cast<size_t>(r)]; }
std::string_view slug(Role r) { return kRoleSlugs[static_cast<size_t>(r)]; }

std::optional<State> stateFromSlug(std::string_view text) {
  return fromSlug<State>(kStateSlugs, text);
}
std::optional<Reason> reasonFromSlug(std::string_view text) {
  return fromSlug<Reason>(kReasonSlugs, text);
}
std::optional<Role> roleFromSlug(std::string_view text) { return fromSlug<Role>(kRoleSlugs, text); }

bool isTransition(State s) {
  return s == State::TakingOver || s == State::FailingOver || s == State::FallingBack ||
         s == State::TakingBack;
}

}  // namespace xmesh::srm
