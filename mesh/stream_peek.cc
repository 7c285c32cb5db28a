#include "mesh/stream_peek.h"

namespace xmesh::mesh {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// A cursor over the buffered bytes; every step reports whether the bytes ran out.
struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool atEnd() const { return i >= s.size(); }
  void skipSpace() {
    while (i < s.size() && isSpace(s[i])) ++i;
  }
  std::string_view takeUntil(std::string_view stops) {
    const size_t start = i;
    while (i < s.size() && stops.find(s[i]) == std::string_view::npos) ++i;
    return s.substr(start, i - start);
  }
};

}  // namespace

StreamPeek::State StreamPeek::feed(std::string_view bytes) {
  if (state_ != State::NeedMore) return state_;
  buffer_.append(bytes);
  state_ = scan();
  if (state_ == State::NeedMore && buffer_.size() > maxBytes_) {
    state_ = invalid("no complete stream header in the first " + std::to_string(maxBytes_) +
                     " bytes");
  }
  return state_;
}

StreamPeek::State StreamPeek::invalid(std::string why) {
  error_ = std::move(why);
  return State::Invalid;
}

// Re-scans from the start on every call: the buffer is bounded by maxBytes_, and the
// header normally arrives in the first read.
StreamPeek::State StreamPeek::scan() {
  Cursor c{buffer_};
  c.skipSpace();
  if (c.i + 1 >= buffer_.size()) return State::NeedMore;
  if (buffer_[c.i] != '<') return invalid("stream does not start with an element");
  if (buffer_[c.i + 1] == '?') {  // an XML declaration
    const size_t end = buffer_.find("?>", c.i + 2);
    if (end == std::string::npos) return State::NeedMore;
    c.i = end + 2;
    c.skipSpace();
    if (c.atEnd()) return State::NeedMore;
    if (buffer_[c.i] != '<') return invalid("stream does not start with an element");
  }
  ++c.i;
  const std::string_view qname = c.takeUntil(" \t\r\n/>");
  if (c.atEnd()) return State::NeedMore;
  if (qname != "stream" && !qname.ends_with(":stream")) {
    return invalid("first element is not a stream header");
  }
  std::string from;
  for (;;) {
    c.skipSpace();
    if (c.atEnd()) return State::NeedMore;
    if (buffer_[c.i] == '>') break;
    if (buffer_[c.i] == '/') return invalid("empty stream header");
    const std::string_view name = c.takeUntil(" \t\r\n=/>");
    c.skipSpace();
    if (c.atEnd()) return State::NeedMore;
    if (name.empty() || buffer_[c.i] != '=') return invalid("malformed attribute in stream header");
    ++c.i;
    c.skipSpace();
    if (c.atEnd()) return State::NeedMore;
    const char quote = buffer_[c.i];
    if (quote != '\'' && quote != '"') return invalid("unquoted attribute in stream header");
    ++c.i;
    const std::string_view value = c.takeUntil(std::string_view(&quote, 1));
    if (c.atEnd()) return State::NeedMore;
    ++c.i;  // the closing quote
    if (name == "from") from = value;
  }
  if (from.empty()) return invalid("stream header without from");
  from_ = std::move(from);
  return State::Ready;
}

}  // namespace xmesh::mesh
