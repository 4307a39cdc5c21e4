#include "smtp/reply.h"

namespace mailport::smtp {

std::string Reply::Format() const {
  std::string out;
  std::string code_text = std::to_string(code);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += code_text;
    out += i + 1 < lines.size() ? '-' : ' ';
    if (!enhanced.empty()) {
      out += enhanced;
      out += ' ';
    }
    out += lines[i];
    out += "\r\n";
  }
  if (lines.empty()) out = code_text + "\r\n";
  return out;
}

std::string Reply::Summary() const {
  std::string out = std::to_string(code);
  if (!enhanced.empty()) out += " " + enhanced;
  if (!lines.empty()) out += " " + lines.front();
  return out;
}

Reply MakeReply(int code, std::string_view enhanced, std::string text) {
  Reply reply;
  reply.code = code;
  reply.enhanced = std::string(enhanced);
  reply.lines.push_back(std::move(text));
  return reply;
}

}  // namespace mailport::smtp
