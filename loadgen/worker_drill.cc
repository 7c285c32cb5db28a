// The worker's part of the failover drill (see worker.h and drill_settings.h): what a
// user does when its active session breaks, the dual connection's inactive session and
// its activation, and the downtime and message accounting per drill window.
//
// Per user at most one active connection (conns_) and one inactive one (DrillUser::
// standby). A user is up while conns_ holds a session that is online (after a login or
// re-login, or activated); everything else is down time, measured by downtime_.
#include <algorithm>
#include <cstdio>
#include <string>

#include "loadgen/connection.h"
#include "loadgen/worker.h"

namespace xmesh::loadgen {

void Worker::initDrill() {
  const DrillSettings& d = config_.scenario.drill;
  if (!d.enabled()) return;
  drillUsers_.assign(config_.shardCount, DrillUser{});
  downtime_ = std::make_unique<DowntimeTracker>(config_.shardCount, static_cast<uint64_t>(d.timeout * 1e6));
}

void Worker::openDrillWindow(std::string_view line) {
  int k = -1;
  unsigned long long at = 0;  // NOLINT(runtime/int): sscanf
  if (!downtime_ || std::sscanf(std::string(line).c_str(), "drill %d %llu", &k, &at) != 2) return;
  downtime_->openWindow(k, at);
}

void Worker::onDrillTimer(uv_timer_t* t) { static_cast<Worker*>(t->data)->runDue(); }

double Worker::jittered(double ms) {
  // +-50%: a node's users do not all come back in the same millisecond.
  std::uniform_real_distribution<double> f(0.5, 1.5);
  return ms * f(rng_);
}

double Worker::standbyDelayMs(const DrillUser& du) {
  double fixed = config_.scenario.drill.reloginDelayMs;
  if (fixed >= 0) return fixed;
  std::uniform_real_distribution<double> window(du.reloginMinS, std::max(du.reloginMinS, du.reloginMaxS));
  return window(rng_) * 1000.0;
}

void Worker::schedule(uint32_t l, DrillAction a, double delayMs) {
  // Only the latest scheduling of an action counts: older heap entries are skipped.
  uint32_t g = ++drillUsers_[l].gen[static_cast<size_t>(a)];
  due_.push({monotonicUs() + static_cast<uint64_t>(std::max(0.0, delayMs) * 1000.0), l, g, a});
}

void Worker::runDue() {
  uint64_t now = monotonicUs();
  while (!due_.empty() && due_.top().dueUs <= now && !finishing_) {
    DueAction d = due_.top();
    due_.pop();
    if (drillUsers_[d.local].gen[static_cast<size_t>(d.action)] != d.gen) continue;
    switch (d.action) {
      case DrillAction::Relogin: startRelogin(d.local); break;
      case DrillAction::OpenStandby: openStandby(d.local); break;
      case DrillAction::RetryActivate:
        if (awaitingActivation(d.local)) activateStandby(d.local);
        break;
    }
  }
  flushDirty();
}

bool Worker::awaitingActivation(uint32_t l) const {
  // Down, with no re-login under way (conns_ empty, or holding a deactivated session).
  Connection* a = conns_[l];
  return downtime_->isDown(l) && (!a || a->session().state() == ClientState::Inactive);
}

void Worker::setStandbyBound(uint32_t l, bool bound) {
  DrillUser& du = drillUsers_[l];
  if (du.standbyCounted == bound) return;
  du.standbyCounted = bound;
  if (bound) ++counters_.drill.standbyBound;
  else --counters_.drill.standbyBound;
}

bool Worker::drillHandlesFailure(Connection& c, std::string_view) {
  if (finishing_ || warming_) return false;  // warmup logins are not the drill's users yet
  uint32_t l = local(c.user());
  DrillUser& du = drillUsers_[l];
  if (du.standby == &c) {
    standbyLost(l, c);
    return true;
  }
  if (conns_[l] != &c) {  // a session the user already left (the old active one)
    c.close();
    return true;
  }
  if (c.relogin() && !c.everOnline()) {
    // A re-login attempt failed: follow see-other-host once, else try again later.
    std::string target = c.session().seeOtherHost();
    bool redirected = c.redirected();
    uint32_t user = c.user();
    uint64_t start = c.startUs();
    conns_[l] = nullptr;
    c.close();  // may free c
    if (!target.empty() && !redirected)
      if (auto t = redirectTarget(target)) {
        ++counters_.drill.reloginAttempts;
        launch(user, *t, start, true, true);
        return true;
      }
    ++du.attempts;
    schedule(l, DrillAction::Relogin, jittered(config_.scenario.drill.reconnectDelayMs));
    return true;
  }
  if (!c.everOnline()) return false;  // the first login: the ordinary path
  activeLost(l, &c, true);
  return true;
}

// The user's active path is gone: `c` broke (broken), or the server moved the user
// elsewhere (failover notice). Down from now; in-doubt messages are counted.
void Worker::activeLost(uint32_t l, Connection* c, bool broken) {
  DrillUser& du = drillUsers_[l];
  downtime_->down(l, realtimeUs());
  setOnline(c->user(), false, c->target());
  if (broken) {
    auto unacked = c->unacked();
    for (int k = 0; k < kDrillWindows; ++k) counters_.drill.windows[static_cast<size_t>(k)].inDoubt += unacked[static_cast<size_t>(k)];
  }
  du.pendingH = c->session().handledCount();
  du.lastTarget = c->target();
  du.attempts = 0;
  conns_[l] = nullptr;
  c->close();  // a session that no longer serves the user is not kept (may free c)
  recover(l);
}

void Worker::recover(uint32_t l) {
  DrillUser& du = drillUsers_[l];
  if (du.standby) {
    ClientState st = du.standby->session().state();
    if (st == ClientState::Inactive) return activateStandby(l);
    return;  // activating already, or still binding: onInactive() activates it
  }
  schedule(l, DrillAction::Relogin, jittered(config_.scenario.drill.reconnectDelayMs));
}

void Worker::activateStandby(uint32_t l) {
  DrillUser& du = drillUsers_[l];
  if (du.standby && du.standby->session().activate(du.pendingH)) du.standby->noteActivateSent();
}

void Worker::standbyLost(uint32_t l, Connection& c) {
  DrillUser& du = drillUsers_[l];
  ++counters_.drill.standbyFailures;
  setStandbyBound(l, false);
  du.standby = nullptr;
  c.close();
  if (!conns_[l] && downtime_->isDown(l)) {
    schedule(l, DrillAction::Relogin, jittered(config_.scenario.drill.reconnectDelayMs));
  } else if (conns_[l] && du.standbyTarget >= 0) {
    schedule(l, DrillAction::OpenStandby, standbyDelayMs(du));
  }
}

void Worker::startRelogin(uint32_t l) {
  if (conns_[l] || finishing_) return;  // active again, or an attempt is under way
  DrillUser& du = drillUsers_[l];
  // Alternate between the two candidates: the one drill.reconnect names first.
  uint16_t same = du.lastTarget;
  int32_t backup = same < config_.backupOf.size() ? config_.backupOf[same] : -1;
  uint16_t first = same, second = same;
  if (backup >= 0) {
    bool backupFirst = config_.scenario.drill.reconnect == ReconnectTarget::Backup;
    first = backupFirst ? static_cast<uint16_t>(backup) : same;
    second = backupFirst ? same : static_cast<uint16_t>(backup);
  }
  uint16_t target = du.attempts % 2 == 0 ? first : second;
  ++counters_.drill.reloginAttempts;
  launch(config_.shardFirst + l, target, monotonicUs(), false, true);
}

void Worker::onRelogin(Connection& c) {
  uint32_t l = local(c.user());
  ++counters_.drill.relogins;
  setOnline(c.user(), true, c.target());
  downtime_->up(l, realtimeUs());
  drillUsers_[l].lastTarget = c.target();
  drillUsers_[l].attempts = 0;
}

void Worker::onDualInfo(Connection& c, const DualInfo& info) {
  uint32_t l = local(c.user());
  if (drillUsers_.empty() || conns_[l] != &c) return;
  DrillUser& du = drillUsers_[l];
  std::optional<uint16_t> target;
  if (info.hasBackup) target = redirectTarget(info.host + ":" + std::to_string(info.port));
  if (!target) {
    ++counters_.drill.dualUnsupported;
    return;
  }
  du.standbyTarget = *target;
  du.reloginMinS = static_cast<float>(info.reloginMinS);
  du.reloginMaxS = static_cast<float>(info.reloginMaxS);
  if (!du.standby) schedule(l, DrillAction::OpenStandby, standbyDelayMs(du));
}

void Worker::openStandby(uint32_t l) {
  DrillUser& du = drillUsers_[l];
  // Only beside a live active session: a user that is down logs in again instead.
  if (du.standby || du.standbyTarget < 0 || !conns_[l] || !conns_[l]->session().online()) return;
  ClientOptions o = clientOptions(config_.shardFirst + l);
  o.inactive = true;
  o.dualQuery = false;
  o.rosterGet = false;
  o.initialPresence = false;
  connectInto(&du.standby, config_.shardFirst + l, static_cast<uint16_t>(du.standbyTarget), std::move(o), monotonicUs(),
              false, false);
}

void Worker::onInactive(Connection& c) {
  uint32_t l = local(c.user());
  if (drillUsers_.empty()) return;
  DrillUser& du = drillUsers_[l];
  if (du.standby != &c) return;
  ++counters_.drill.standbyBinds;
  setStandbyBound(l, true);
  if (awaitingActivation(l)) activateStandby(l);  // the active session broke meanwhile
}

void Worker::onActivated(Connection& c, const ActivatedInfo&) {
  uint32_t l = local(c.user());
  if (drillUsers_.empty()) return;
  DrillUser& du = drillUsers_[l];
  if (du.standby != &c) return;
  ++counters_.drill.activations;
  setStandbyBound(l, false);
  Connection* old = conns_[l];
  conns_[l] = &c;
  du.standby = old;
  setOnline(c.user(), true, c.target());
  downtime_->moved(l, realtimeUs());  // up again, or (fallback) switched without a gap
  if (old) {
    // Fallback: the old active session becomes the inactive one, without a reconnect,
    // once the server says <deactivated/> (or at once if it already did).
    if (old->session().state() == ClientState::Inactive) setStandbyBound(l, true);
    du.standbyTarget = old->target();
  } else {
    // Failover: the inactive session now goes to the node we left, after the delay.
    du.standbyTarget = du.lastTarget;
    schedule(l, DrillAction::OpenStandby, standbyDelayMs(du));
  }
  du.lastTarget = c.target();
}

void Worker::onActivateRefused(Connection& c, std::string_view) {
  uint32_t l = local(c.user());
  if (drillUsers_.empty() || drillUsers_[l].standby != &c) return;
  ++counters_.drill.activateRefused;
  // The node does not serve the user yet (its SRM has not taken over): ask again.
  if (awaitingActivation(l)) schedule(l, DrillAction::RetryActivate, config_.scenario.drill.activateRetryMs);
}

void Worker::onFailoverNotice(Connection& c) {
  uint32_t l = local(c.user());
  if (drillUsers_.empty() || drillUsers_[l].standby != &c) return;
  ++counters_.drill.failoverNotices;
  // The home no longer serves the user, even if its connection still looks alive.
  if (Connection* active = conns_[l]) return activeLost(l, active, false);
  if (c.session().state() == ClientState::Inactive) activateStandby(l);
}

void Worker::onFallbackNotice(Connection& c) {
  uint32_t l = local(c.user());
  if (drillUsers_.empty() || conns_[l] != &c) return;
  ++counters_.drill.fallbackNotices;
  DrillUser& du = drillUsers_[l];
  du.pendingH = c.session().handledCount();
  // Activate on the home; without a bound inactive session there, the deactivation that
  // follows sends the user through a re-login.
  if (du.standby && du.standby->session().state() == ClientState::Inactive) activateStandby(l);
}

void Worker::onDeactivated(Connection& c) {
  uint32_t l = local(c.user());
  if (drillUsers_.empty()) return;
  ++counters_.drill.deactivations;
  DrillUser& du = drillUsers_[l];
  if (du.standby == &c) return setStandbyBound(l, true);  // demoted after our activation
  if (conns_[l] != &c) return;
  // Demoted before (or without) an activation elsewhere: down until one succeeds.
  downtime_->down(l, realtimeUs());
  setOnline(c.user(), false, c.target());
  du.pendingH = c.session().handledCount();
  if (du.standby) {
    if (du.standby->session().state() == ClientState::Inactive) activateStandby(l);
    return;  // onActivated() swaps the two sessions
  }
  du.lastTarget = c.target();
  du.attempts = 0;
  conns_[l] = nullptr;
  c.close();
  schedule(l, DrillAction::Relogin, jittered(config_.scenario.drill.reconnectDelayMs));
}

void Worker::sweepDrill(uint64_t now, uint64_t limit) {
  // Inactive sessions that never bind, and activations never answered, are given up
  // like logins that take too long (the user then logs in again).
  for (uint32_t l = 0; l < drillUsers_.size(); ++l) {
    Connection* s = drillUsers_[l].standby;
    if (!s || s->closing()) continue;
    if (!s->everOnline() && now - s->startUs() > limit) s->session().fail("timeout");
    else if (s->session().state() == ClientState::WaitActivated && now - s->activateSentUs() > limit)
      s->session().fail("activate-timeout");
  }
}

void Worker::closeStandbys() {
  for (DrillUser& du : drillUsers_)
    if (du.standby && !du.standby->closing()) du.standby->close();
  while (!due_.empty()) due_.pop();
}

}  // namespace xmesh::loadgen
