// xmeshctl cert ca|node: the mesh CA and one CA-issued certificate per node
// (tls/selfsigned.h does the cryptography and the 0600 key files).
#include <filesystem>

#include "ctl/topology_commands.h"
#include "tls/selfsigned.h"
#include "topology/loader.h"

namespace xmesh::ctl {
namespace {

namespace fs = std::filesystem;

Status ensureDir(const std::string& dir) {
  if (dir.empty()) return Status::fail("usage", "--out DIR is required");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::fail("cert-error", "cannot create " + dir + ": " + ec.message());
  return Status::ok();
}

std::string join(const std::string& dir, const std::string& file) { return (fs::path(dir) / file).string(); }

}  // namespace

Status makeCa(const CaOptions& o, std::ostream& out) {
  if (auto s = ensureDir(o.outDir); !s) return s;
  std::string cert = join(o.outDir, "ca.pem"), key = join(o.outDir, "ca.key");
  std::error_code ec;
  if (!o.force && (fs::exists(key, ec) || fs::exists(cert, ec)))
    return Status::fail("exists", key + " exists; a new CA invalidates every node certificate (--force replaces it)");
  if (auto s = tls::generateSelfSigned(cert, key, {o.name}, o.days, /*isCa=*/true); !s) return s;
  out << "CA " << o.name << ": " << cert << ", key " << key << " (keep it off the nodes), valid " << o.days
      << " days\n";
  return Status::ok();
}

Status makeNodeCerts(const NodeCertOptions& o, std::ostream& out) {
  auto loaded = topology::loadTopology(o.topologyPath);
  if (!loaded) return Status::fail(loaded.error().reason, loaded.error().detail);
  const topology::Topology& t = loaded.value();
  std::string caCert = join(o.caDir, "ca.pem"), caKey = join(o.caDir, "ca.key");
  std::error_code ec;
  if (!fs::exists(caCert, ec) || !fs::exists(caKey, ec))
    return Status::fail("cert-invalid", "no CA in " + o.caDir + " (xmeshctl cert ca --out " + o.caDir + ")");

  std::vector<const topology::Node*> nodes;
  for (const std::string& id : o.nodes) {
    const topology::Node* n = t.findNode(id);
    if (!n) return Status::fail("unknown-node", "no node '" + id + "' in the topology");
    nodes.push_back(n);
  }
  if (o.nodes.empty()) {
    for (const auto& n : t.nodes()) nodes.push_back(&n);
  }
  if (auto s = ensureDir(o.outDir); !s) return s;
  for (const topology::Node* n : nodes) {
    std::vector<std::string> sans{n->id};
    // DNS SANs only (tls/selfsigned.h): an IPv4 host goes in as written, an IPv6 one
    // cannot; the r2r identity check uses the node id either way.
    bool v6 = n->host.find(':') != std::string::npos;
    if (!v6 && n->host != n->id) sans.push_back(n->host);
    std::string cert = join(o.outDir, n->id + ".pem"), key = join(o.outDir, n->id + ".key");
    if (auto s = tls::issueCertificate(caCert, caKey, cert, key, n->id, sans, o.days); !s)
      return Status::fail(s.error().reason, n->id + ": " + s.error().detail);
    out << n->id << ": " << cert << " (CN " << n->id << ", SAN";
    for (const auto& name : sans) out << ' ' << name;
    out << ")";
    if (v6) out << " [IPv6 host " << n->host << " not in SAN]";
    if (t.security().secure && fs::weakly_canonical(cert, ec) != fs::weakly_canonical(t.security().certFileFor(n->id), ec))
      out << " [note: the topology expects " << t.security().certFileFor(n->id) << ']';
    out << '\n';
  }
  out << nodes.size() << " node certificates, valid " << o.days << " days, signed by " << caCert << '\n';
  return Status::ok();
}

}  // namespace xmesh::ctl
