#include "loadgen/salted_cache.h"

#include <charconv>
#include <fstream>
#include <vector>

namespace xmesh::loadgen {
namespace {

std::vector<std::string_view> splitCommas(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t c = line.find(',', start);
    out.push_back(line.substr(start, c == std::string_view::npos ? std::string_view::npos : c - start));
    if (c == std::string_view::npos) break;
    start = c + 1;
  }
  return out;
}

}  // namespace

Status SaltedCache::loadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::fail("keys-file", "cannot open " + path);
  std::string line;
  size_t lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto f = splitCommas(line);
    auto bad = [&] { return Status::fail("keys-file", path + ": line " + std::to_string(lineNo)); };
    if (f.size() != 5) return bad();
    SaltedKeys k;
    auto r = std::from_chars(f[1].data(), f[1].data() + f[1].size(), k.iterations);
    if (r.ec != std::errc() || k.iterations == 0) return bad();
    auto salt = sasl::base64Decode(f[2]);
    auto s1 = sasl::base64Decode(f[3]);
    auto s256 = sasl::base64Decode(f[4]);
    if (!salt.isOk() || !s1.isOk() || !s256.isOk()) return bad();
    k.salt = std::move(salt.value());
    k.sha1 = std::move(s1.value());
    k.sha256 = std::move(s256.value());
    keys_[std::string(f[0])] = std::move(k);
  }
  return Status::ok();
}

const SaltedKeys* SaltedCache::find(std::string_view user) const {
  auto it = keys_.find(std::string(user));
  return it == keys_.end() ? nullptr : &it->second;
}

void SaltedCache::store(std::string_view user, sasl::HashAlg alg, std::string_view salt,
                        uint32_t iterations, std::string_view salted) {
  SaltedKeys& k = keys_[std::string(user)];
  if (k.salt != salt || k.iterations != iterations) {
    k = SaltedKeys{};
    k.salt = std::string(salt);
    k.iterations = iterations;
  }
  (alg == sasl::HashAlg::Sha1 ? k.sha1 : k.sha256) = std::string(salted);
}

std::string SaltedCache::formatLine(std::string_view user, const SaltedKeys& keys) {
  std::string out(user);
  out += ',';
  out += std::to_string(keys.iterations);
  out += ',';
  out += sasl::base64Encode(keys.salt);
  out += ',';
  out += sasl::base64Encode(keys.sha1);
  out += ',';
  out += sasl::base64Encode(keys.sha256);
  return out;
}

}  // namespace xmesh::loadgen
