// Shared by the tests that run the real xmeshctl binary: shell quoting, reading the
// captured output, and the result of one run.
#pragma once
#include <fstream>
#include <sstream>
#include <string>

namespace xmesh::ctl::testing {

struct CtlRun {
  int exitCode = -1;
  std::string out, err;
};

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace xmesh::ctl::testing
