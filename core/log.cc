#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace xmesh::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::Info)};
const char* levelName(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "?";
}
}  // namespace

void setLevel(Level l) { g_level.store(static_cast<int>(l), std::memory_order_relaxed); }
Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

bool parseLevel(std::string_view text, Level* out) {
  for (Level l : {Level::Debug, Level::Info, Level::Warn, Level::Error}) {
    if (text == levelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

std::string sanitize(std::string_view value, size_t max) {
  std::string out;
  bool quote = value.empty();
  for (char c : value) {
    if (c == ' ' || c == '=' || c == '"') quote = true;
  }
  if (quote) out.push_back('"');
  for (size_t i = 0; i < value.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else if (c == '"') {
      out += "\\\"";
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (value.size() > max) out += "...";
  if (quote) out.push_back('"');
  return out;
}

void write(Level l, std::string_view component, std::string_view event,
           std::initializer_list<Field> fields) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line;
  line.reserve(128);
  line += ts;
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
  line += frac;
  line += ' ';
  line += levelName(l);
  line += ' ';
  line += component;
  line += ' ';
  line += event;
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    line += sanitize(v);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace xmesh::log
