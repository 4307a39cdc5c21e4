#include "smtp/data_reader.h"

namespace mailport::smtp {

DataReader::DataReader(std::size_t size_limit) : size_limit_(size_limit) {}

void DataReader::Append(std::string_view bytes) {
  size_ += bytes.size();
  if (size_limit_ != 0 && size_ > size_limit_) {
    too_large_ = true;
    content_.clear();
    content_.shrink_to_fit();
  }
  if (!too_large_) content_.append(bytes);
}

void DataReader::AppendBareLineBreak() {
  ++bare_line_breaks_;
  Append("\r\n");
}

void DataReader::ProcessInLine(char c) {
  if (c == '\r') {
    state_ = State::kCr;
  } else if (c == '\n') {
    // A bare LF ends the line in the stored copy, but the next line does
    // not start after CR LF, so it is kInLine rather than kLineStart.
    AppendBareLineBreak();
    state_ = State::kInLine;
  } else {
    Append(std::string_view(&c, 1));
    state_ = State::kInLine;
  }
}

std::size_t DataReader::Consume(std::string_view input) {
  std::size_t consumed = 0;
  while (consumed < input.size() && state_ != State::kDone) {
    char c = input[consumed++];
    switch (state_) {
      case State::kLineStart:
        if (c == '.') {
          state_ = State::kLineStartDot;
        } else {
          ProcessInLine(c);
        }
        break;
      case State::kLineStartDot:
        if (c == '\r') {
          state_ = State::kLineStartDotCr;
        } else if (c == '\n') {
          // "." ended by a bare LF is content, not a terminator.
          Append(".");
          AppendBareLineBreak();
          state_ = State::kInLine;
        } else {
          // Dot-stuffed line: the leading dot is dropped.
          ProcessInLine(c);
        }
        break;
      case State::kLineStartDotCr:
        if (c == '\n') {
          state_ = State::kDone;
        } else {
          Append(".");
          AppendBareLineBreak();
          state_ = State::kInLine;
          ProcessInLine(c);
        }
        break;
      case State::kInLine:
        ProcessInLine(c);
        break;
      case State::kCr:
        if (c == '\n') {
          Append("\r\n");
          state_ = State::kLineStart;
        } else {
          AppendBareLineBreak();
          state_ = State::kInLine;
          ProcessInLine(c);
        }
        break;
      case State::kDone:
        break;
    }
  }
  return consumed;
}

}  // namespace mailport::smtp
