// libFuzzer target for the SMTP command grammar: ParseCommandLine,
// ParseMailFrom, ParseRcptTo and ParseSizeValue on arbitrary bytes.
//
// Besides the sanitizers' checks it asserts what the session relies on: an
// accepted address contains no control byte, space or angle bracket
// outside a quoted local part, stays within the RFC 5321 path limit, and
// parses again to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "smtp/command.h"

namespace {

using mailport::smtp::MailPath;
using mailport::smtp::PathResult;

void Check(bool condition) {
  if (!condition) std::abort();
}

void CheckAddress(const MailPath& path, bool is_reverse_path) {
  const std::string& address = path.address;
  Check(address.size() <= 254);
  bool quoted = false;
  for (std::size_t i = 0; i < address.size(); ++i) {
    auto octet = static_cast<unsigned char>(address[i]);
    Check(octet >= 32 && octet <= 126);
    if (quoted && octet == '\\') {
      ++i;
    } else if (octet == '"') {
      quoted = !quoted;
    } else if (!quoted) {
      Check(octet != ' ' && octet != '<' && octet != '>');
    }
  }
  // An accepted address, put back between brackets, parses to itself.
  if (!address.empty()) {
    PathResult again =
        is_reverse_path
            ? mailport::smtp::ParseMailFrom("FROM:<" + address + ">")
            : mailport::smtp::ParseRcptTo("TO:<" + address + ">");
    Check(again.path.has_value());
    Check(again.path->address == address);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  mailport::smtp::CommandLine command = mailport::smtp::ParseCommandLine(input);
  Check(command.verb.size() + command.argument.size() <= input.size());

  for (bool is_reverse_path : {true, false}) {
    PathResult result = is_reverse_path ? mailport::smtp::ParseMailFrom(input)
                                        : mailport::smtp::ParseRcptTo(input);
    if (result.path) {
      Check(result.error.empty());
      CheckAddress(*result.path, is_reverse_path);
      Check(!mailport::smtp::DomainOf(result.path->address).empty() ||
            result.path->address.find('@') == std::string::npos);
    } else {
      Check(!result.error.empty());
    }
  }

  std::optional<std::uint64_t> value = mailport::smtp::ParseSizeValue(input);
  if (value) {
    Check(!input.empty() && input.size() <= 20);
  }
  return 0;
}
