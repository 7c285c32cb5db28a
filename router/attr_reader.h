// Reads the attributes of an r2r control record into typed fields, collecting every
// missing or malformed one, so a decoder reports them all in one error (the records of
// srm_wire.h and replica_records.h).
#pragma once
#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "r2r/wire.h"

namespace xmesh::router {

template <typename T>
bool parseDecimal(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && p == text.data() + text.size();
}

struct AttrReader {
  const r2r::Attrs& attrs;
  std::string bad;  // comma-separated names of the fields that failed

  std::string_view get(std::string_view key) const { return r2r::wire::findAttr(attrs, key); }
  void fail(std::string_view key) {
    if (!bad.empty()) bad += ',';
    bad += key;
  }
  template <typename T>
  void integer(std::string_view key, T& out) {
    if (!parseDecimal(get(key), out)) fail(key);
  }
  void flag(std::string_view key, bool& out) {
    std::string_view v = get(key);
    if (v == "1") out = true;
    else if (v == "0") out = false;
    else fail(key);
  }
  template <typename E>
  void slug(std::string_view key, E& out, std::optional<E> (*parse)(std::string_view)) {
    auto v = parse(get(key));
    if (v) out = *v;
    else fail(key);
  }
  // A field that must be present and non-empty.
  void text(std::string_view key, std::string& out) {
    out = std::string(get(key));
    if (out.empty()) fail(key);
  }
};

}  // namespace xmesh::router
