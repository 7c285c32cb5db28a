// Plain-mode acceptor: who is calling? Buffers the first bytes of an accepted r2r
// connection until the stream header's `from` is readable, so the connection can be
// handed to that peer's Link together with every byte it sent.
//
// Plain mode TRUSTS this claim: anyone who can reach the port can speak as any node.
// It is for trusted networks only; secure mode takes the identity from the verified
// client certificate instead. The peek only picks the Link; the Link then checks the
// whole header (from/to, namespaces) and the hello as usual.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace xmesh::mesh {

class StreamPeek {
 public:
  enum class State { NeedMore, Ready, Invalid };

  explicit StreamPeek(size_t maxBytes = 8192) : maxBytes_(maxBytes) {}

  // Appends bytes and looks for the complete stream header. Ready: from() is set and
  // buffered() holds everything fed. Invalid: error() says why (also when more than
  // maxBytes arrived without a complete header). Once Ready or Invalid, further input
  // is ignored.
  State feed(std::string_view bytes);

  State state() const { return state_; }
  const std::string& from() const { return from_; }
  const std::string& error() const { return error_; }
  std::string& buffered() { return buffer_; }

 private:
  State scan();
  State invalid(std::string why);

  size_t maxBytes_;
  State state_ = State::NeedMore;
  std::string buffer_, from_, error_;
};

}  // namespace xmesh::mesh
