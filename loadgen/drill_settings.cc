#include "loadgen/drill_settings.h"

#include <sstream>

namespace xmesh::loadgen {
namespace {

bool toDouble(const std::string& v, double* out) {
  try {
    size_t used = 0;
    *out = std::stod(v, &used);
    return used == v.size();
  } catch (...) {
    return false;
  }
}

std::string fmt(double d) {
  std::ostringstream o;
  o << d;
  return o.str();
}

}  // namespace

bool DrillSettings::set(const std::string& key, const std::string& v, Status* status) {
  auto bad = [&] { *status = Status::fail("scenario", "bad value for " + key + ": '" + v + "'"); };
  *status = Status::ok();
  // A non-negative number of seconds or milliseconds; `allowOff` also takes -1 (= off).
  auto number = [&](double* field, bool allowOff) {
    double d = 0;
    if (!toDouble(v, &d) || !(d >= 0 || (allowOff && d == -1))) return bad();
    *field = d;
  };
  if (key == "drill.at") number(&at, true);
  else if (key == "drill.command") command = v;
  else if (key == "drill.fallback_at") number(&fallbackAt, true);
  else if (key == "drill.fallback_command") fallbackCommand = v;
  else if (key == "drill.timeout") {
    number(&timeout, false);
    if (*status && timeout <= 0) bad();
  } else if (key == "drill.reconnect") {
    if (v == "backup") reconnect = ReconnectTarget::Backup;
    else if (v == "same") reconnect = ReconnectTarget::Same;
    else bad();
  } else if (key == "drill.reconnect_delay_ms") number(&reconnectDelayMs, false);
  else if (key == "dual") {
    if (v == "true" || v == "1" || v == "on" || v == "yes") dual = true;
    else if (v == "false" || v == "0" || v == "off" || v == "no") dual = false;
    else bad();
  } else if (key == "dual_relogin_delay_ms") number(&reloginDelayMs, true);
  else if (key == "dual_activate_retry_ms") {
    number(&activateRetryMs, false);
    if (*status && activateRetryMs < 1) bad();  // a refused activation is never retried in a busy loop
  } else return false;
  return true;
}

Status DrillSettings::check() const {
  if (!enabled()) {
    if (!command.empty() || hasFallback() || !fallbackCommand.empty())
      return Status::fail("scenario", "drill.command / drill.fallback_* need drill.at");
    return Status::ok();
  }
  if (command.empty()) return Status::fail("scenario", "drill.at needs drill.command");
  if (hasFallback() != !fallbackCommand.empty())
    return Status::fail("scenario", "drill.fallback_at and drill.fallback_command go together");
  if (hasFallback() && fallbackAt <= at) return Status::fail("scenario", "drill.fallback_at must come after drill.at");
  return Status::ok();
}

void DrillSettings::addSettings(std::map<std::string, std::string>& out) const {
  out["drill.at"] = fmt(at);
  out["drill.command"] = command;
  out["drill.fallback_at"] = fmt(fallbackAt);
  out["drill.fallback_command"] = fallbackCommand;
  out["drill.timeout"] = fmt(timeout);
  out["drill.reconnect"] = reconnect == ReconnectTarget::Backup ? "backup" : "same";
  out["drill.reconnect_delay_ms"] = fmt(reconnectDelayMs);
  out["dual"] = dual ? "true" : "false";
  out["dual_relogin_delay_ms"] = fmt(reloginDelayMs);
  out["dual_activate_retry_ms"] = fmt(activateRetryMs);
}

}  // namespace xmesh::loadgen
