#include "store/row_codec.h"

namespace xmesh::store::codec {
namespace {
constexpr char kGroupSep = '\x1f';
}  // namespace

int64_t subCode(Sub s) {
  switch (s) {
    case Sub::None: return 0;
    case Sub::To: return 1;
    case Sub::From: return 2;
    case Sub::Both: return 3;
  }
  return 0;
}

Sub subFromCode(int64_t c) {
  switch (c) {
    case 1: return Sub::To;
    case 2: return Sub::From;
    case 3: return Sub::Both;
    default: return Sub::None;
  }
}

std::string joinGroups(const std::vector<std::string>& groups) {
  std::string out;
  for (const auto& g : groups) {
    if (!out.empty()) out += kGroupSep;
    out += g;
  }
  return out;
}

std::vector<std::string> splitGroups(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t p = s.find(kGroupSep);
    out.emplace_back(s.substr(0, p));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

}  // namespace xmesh::store::codec
