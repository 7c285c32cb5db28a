// The admin endpoint on 127.0.0.1: GET /metrics (Prometheus text), GET /status (JSON).
// Its own thread and loop, so a scrape never stalls a routing loop; it reads only
// atomics and sharded directory counts.
#pragma once
#include <uv.h>

#include <functional>
#include <string>
#include <thread>

#include "core/status.h"

namespace xmesh::router {

class AdminServer {
 public:
  using Handler = std::function<std::string(const std::string& path, int* status, std::string* contentType)>;
  explicit AdminServer(Handler handler);
  ~AdminServer();
  Status start(const std::string& address, int port);
  void stop();

 private:
  struct Client;
  static void onConnection(uv_stream_t* s, int status);
  Handler handler_;
  uv_loop_t loop_{};
  uv_tcp_t listener_{};
  uv_async_t stop_{};
  std::thread thread_;
  bool running_ = false;
};

}  // namespace xmesh::router
