// Decoder for the content of a DATA command (RFC 5321 section 4.1.1.4).
//
// Only the five octets CR LF "." CR LF end the content; the CR LF that ended
// the DATA command line counts as the first two.  A bare CR or bare LF
// anywhere is normalised to CR LF and counted, and a line that began after
// a bare line break can never end the message or be dot-unstuffed: a
// client, or a proxy in front of us, that treats "\n.\n" as the end while
// we do not, cannot smuggle a second message through us (the 2023 "SMTP
// smuggling" attacks).  Lines that start with a dot after CR LF have that
// dot removed (transparency, section 4.5.2).
//
// The decoder keeps at most `size_limit` bytes of content; once the limit
// is passed it still reads to the end of the data, so the session can send
// 552 and stay in sync with the client.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mailport::smtp {

class DataReader {
 public:
  // `size_limit` 0 means no limit.
  explicit DataReader(std::size_t size_limit);

  // Consumes `input` up to and including the end-of-data sequence and
  // returns how many bytes it consumed; the bytes after it belong to the
  // next command.
  std::size_t Consume(std::string_view input);

  bool done() const { return state_ == State::kDone; }
  bool too_large() const { return too_large_; }
  // Bytes of decoded content seen, including any beyond the limit.
  std::size_t size() const { return size_; }
  std::size_t bare_line_breaks() const { return bare_line_breaks_; }
  // Decoded content with CR LF line ends, without the end-of-data line.
  std::string& content() { return content_; }

 private:
  enum class State {
    kLineStart,       // after CR LF: a dot here may start the terminator
    kLineStartDot,    // CR LF "."
    kLineStartDotCr,  // CR LF "." CR
    kInLine,
    kCr,  // a CR inside a line, waiting to see whether LF follows
    kDone,
  };

  void Append(std::string_view bytes);
  void AppendBareLineBreak();
  void ProcessInLine(char c);

  std::size_t size_limit_;
  std::size_t size_ = 0;
  std::size_t bare_line_breaks_ = 0;
  bool too_large_ = false;
  State state_ = State::kLineStart;
  std::string content_;
};

}  // namespace mailport::smtp
