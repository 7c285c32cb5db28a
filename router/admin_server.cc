#include "router/admin_server.h"

#include <cstring>

namespace xmesh::router {

struct AdminServer::Client {
  uv_tcp_t tcp{};
  uv_write_t write{};
  AdminServer* server = nullptr;
  std::string request;
  std::string response;
  char buf[4096];
};

AdminServer::AdminServer(Handler handler) : handler_(std::move(handler)) {}

AdminServer::~AdminServer() { stop(); }

Status AdminServer::start(const std::string& address, int port) {
  uv_loop_init(&loop_);
  loop_.data = this;
  uv_tcp_init(&loop_, &listener_);
  sockaddr_in addr{};
  uv_ip4_addr(address.c_str(), port, &addr);
  if (int r = uv_tcp_bind(&listener_, reinterpret_cast<sockaddr*>(&addr), 0); r != 0)
    return Status::fail("admin-listen", uv_strerror(r));
  if (int r = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 64, onConnection); r != 0)
    return Status::fail("admin-listen", uv_strerror(r));
  uv_async_init(&loop_, &stop_, [](uv_async_t* a) {
    auto* self = static_cast<AdminServer*>(a->loop->data);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->listener_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->stop_), nullptr);
  });
  running_ = true;
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  return Status::ok();
}

void AdminServer::stop() {
  if (!running_) return;
  running_ = false;
  uv_async_send(&stop_);
  thread_.join();
  uv_walk(&loop_, [](uv_handle_t* h, void*) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }, nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

void AdminServer::onConnection(uv_stream_t* s, int status) {
  if (status < 0) return;
  auto* self = static_cast<AdminServer*>(s->loop->data);
  auto* c = new Client;
  c->server = self;
  uv_tcp_init(s->loop, &c->tcp);
  c->tcp.data = c;
  auto closeClient = [](Client* cl) {
    uv_close(reinterpret_cast<uv_handle_t*>(&cl->tcp), [](uv_handle_t* h) { delete static_cast<Client*>(h->data); });
  };
  if (uv_accept(s, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) return closeClient(c);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* b) {
        auto* cl = static_cast<Client*>(h->data);
        *b = uv_buf_init(cl->buf, sizeof cl->buf);
      },
      [](uv_stream_t* st, ssize_t n, const uv_buf_t* b) {
        auto* cl = static_cast<Client*>(st->data);
        auto close = [](Client* x) {
          uv_close(reinterpret_cast<uv_handle_t*>(&x->tcp), [](uv_handle_t* h) { delete static_cast<Client*>(h->data); });
        };
        if (n < 0) return close(cl);
        cl->request.append(b->base, static_cast<size_t>(n));
        if (cl->request.size() > 16384) return close(cl);
        if (cl->request.find("\r\n\r\n") == std::string::npos) return;
        uv_read_stop(st);
        std::string path;
        int code = 404;
        std::string type = "text/plain";
        std::string body = "not found\n";
        if (cl->request.rfind("GET ", 0) == 0) {
          size_t end = cl->request.find(' ', 4);
          path = cl->request.substr(4, end == std::string::npos ? std::string::npos : end - 4);
          body = cl->server->handler_(path, &code, &type);
        } else {
          code = 405;
          body = "method not allowed\n";
        }
        const char* reason = code == 200 ? "OK" : code == 404 ? "Not Found" : "Error";
        cl->response = "HTTP/1.1 " + std::to_string(code) + " " + reason + "\r\nContent-Type: " + type +
                       "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        uv_buf_t out = uv_buf_init(cl->response.data(), static_cast<unsigned>(cl->response.size()));
        cl->write.data = cl;
        uv_write(&cl->write, st, &out, 1, [](uv_write_t* w, int) {
          auto* x = static_cast<Client*>(w->data);
          uv_close(reinterpret_cast<uv_handle_t*>(&x->tcp), [](uv_handle_t* h) { delete static_cast<Client*>(h->data); });
        });
      });
}

}  // namespace xmesh::router
