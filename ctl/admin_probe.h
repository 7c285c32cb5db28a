// A minimal blocking HTTP/1.0 GET for xmeshctl's look at a node's admin endpoint
// (/status, /metrics). Not for the data plane: one request per connection, the body is
// read until the server closes, everything under one deadline.
//
// Error reasons: "unreachable" (resolve/connect failed or refused), "timeout",
// "bad-response" (not HTTP, or larger than maxBytes).
#pragma once
#include <chrono>
#include <cstddef>
#include <string>

#include "core/status.h"

namespace xmesh::ctl {

struct HttpResponse {
  int status = 0;
  std::string body;
};

Result<HttpResponse> httpGet(const std::string& host, int port, const std::string& path,
                             std::chrono::milliseconds timeout, size_t maxBytes = 1 << 20);

}  // namespace xmesh::ctl
