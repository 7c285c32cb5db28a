// Reads the mesh topology file (TOML, toml++). The format, key by key, is documented in
// topology/example-full.toml; topology/example-2x2.toml is a small local mesh.
//
// Durations (the [srm] keys) are strings with a unit: "250ms", "15s", "30min", "1h"
// (integer amount; ms, s, min or h). A bare number is refused, so a value can never be
// read in the wrong unit.
//
// Unknown keys and wrongly typed values are errors, like the node config (core/config.h).
// Relative paths in [security] are resolved against the folder of the topology file.
// Loaded once at start-up or by xmeshctl; exceptions never escape (errors are values).
//
// Error reasons: "topology-open" (file unreadable), "topology-parse" (TOML syntax, with
// the line), "topology-invalid" (unknown keys, bad values, limits: every problem found,
// "; "-separated, each naming its cluster/group/node).
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "topology/topology.h"

namespace xmesh::topology {

// The file's content before validation (no limits checked yet).
Result<TopologyDesc> parseTopologyDesc(const std::string& tomlText, const std::string& baseDir = "");
// parseTopologyDesc + Topology::build.
Result<Topology> parseTopology(const std::string& tomlText, const std::string& baseDir = "");
Result<Topology> loadTopology(const std::string& path);

// "250ms", "15s", "30min", "1h" -> milliseconds; nullopt for anything else.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);
// The inverse: h or min when exact (min from 10 minutes up), else s or ms
// ("250ms", "120s", "30min", "1h").
std::string formatDuration(std::chrono::milliseconds d);

}  // namespace xmesh::topology
