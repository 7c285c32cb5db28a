// Structured logs: one line per event, `ts level component event key=value ...`.
// Values are sanitized (no control characters, quoted when they contain spaces), so an
// attacker-controlled string cannot forge log lines.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace xmesh::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };

void setLevel(Level level);
Level level();
bool parseLevel(std::string_view text, Level* out);

using Field = std::pair<std::string_view, std::string>;

void write(Level level, std::string_view component, std::string_view event,
           std::initializer_list<Field> fields = {});

inline void debug(std::string_view c, std::string_view e, std::initializer_list<Field> f = {}) {
  if (level() <= Level::Debug) write(Level::Debug, c, e, f);
}
inline void info(std::string_view c, std::string_view e, std::initializer_list<Field> f = {}) {
  if (level() <= Level::Info) write(Level::Info, c, e, f);
}
inline void warn(std::string_view c, std::string_view e, std::initializer_list<Field> f = {}) {
  if (level() <= Level::Warn) write(Level::Warn, c, e, f);
}
inline void error(std::string_view c, std::string_view e, std::initializer_list<Field> f = {}) {
  write(Level::Error, c, e, f);
}

// Sanitizes a value for a log line, truncating to max bytes.
std::string sanitize(std::string_view value, size_t max = 200);

}  // namespace xmesh::log
