#include "ctl/admin_probe.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace xmesh::ctl {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Milliseconds left until `deadline`, at least 0.
int remaining(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on fd; false on timeout.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    int r = ::poll(&p, 1, remaining(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

Result<int> connectTo(const addrinfo* ai, Clock::time_point deadline, std::unique_ptr<Fd>& out) {
  int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) return Error{"unreachable", std::strerror(errno)};
  out = std::make_unique<Fd>(fd);
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return fd;
  if (errno != EINPROGRESS) return Error{"unreachable", std::strerror(errno)};
  if (!waitFor(fd, POLLOUT, deadline)) return Error{"timeout", "connect timed out"};
  int err = 0;
  socklen_t len = sizeof(err);
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return Error{"unreachable", std::strerror(err)};
  return fd;
}

Status sendAll(int fd, const std::string& data, Clock::time_point deadline) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!waitFor(fd, POLLOUT, deadline)) return Status::fail("timeout", "send timed out");
    } else {
      return Status::fail("unreachable", std::strerror(errno));
    }
  }
  return Status::ok();
}

Result<std::string> readAll(int fd, Clock::time_point deadline, size_t maxBytes) {
  std::string data;
  char buf[8192];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      data.append(buf, static_cast<size_t>(n));
      if (data.size() > maxBytes) return Error{"bad-response", "response larger than " + std::to_string(maxBytes)};
    } else if (n == 0) {
      return data;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!waitFor(fd, POLLIN, deadline)) return Error{"timeout", "no complete response in time"};
    } else {
      return Error{"unreachable", std::strerror(errno)};
    }
  }
}

Result<HttpResponse> parseResponse(const std::string& raw) {
  // "HTTP/1.x NNN reason\r\n headers \r\n\r\n body"
  if (raw.compare(0, 7, "HTTP/1.") != 0 || raw.size() < 12) return Error{"bad-response", "not an HTTP response"};
  HttpResponse r;
  for (size_t i = 9; i < 12; ++i) {
    if (raw[i] < '0' || raw[i] > '9') return Error{"bad-response", "bad status line"};
    r.status = r.status * 10 + (raw[i] - '0');
  }
  size_t body = raw.find("\r\n\r\n");
  if (body == std::string::npos) return Error{"bad-response", "no end of headers"};
  r.body = raw.substr(body + 4);
  return r;
}

}  // namespace

Result<HttpResponse> httpGet(const std::string& host, int port, const std::string& path,
                             std::chrono::milliseconds timeout, size_t maxBytes) {
  Clock::time_point deadline = Clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list); rc != 0)
    return Error{"unreachable", std::string("cannot resolve ") + host + ": " + gai_strerror(rc)};
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(list, freeaddrinfo);

  Error last{"unreachable", "no address for " + host};
  for (const addrinfo* ai = list; ai; ai = ai->ai_next) {
    std::unique_ptr<Fd> fd;
    auto connected = connectTo(ai, deadline, fd);
    if (!connected) {
      last = connected.error();
      if (last.reason == "timeout") break;
      continue;
    }
    std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
    if (auto s = sendAll(fd->get(), request, deadline); !s) return s.error();
    auto raw = readAll(fd->get(), deadline, maxBytes);
    if (!raw) return raw.error();
    return parseResponse(raw.value());
  }
  return last;
}

}  // namespace xmesh::ctl
