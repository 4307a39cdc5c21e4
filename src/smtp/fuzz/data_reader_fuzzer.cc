// libFuzzer target for DataReader, the DATA decoder.
//
// The input is fed twice: whole, and in chunks whose size comes from the
// input's first byte.  Both runs must decode the same content and stop at
// the same offset, because decoder state lost between reads would let a
// client split a terminator across packets to smuggle a message.  The
// decoded content must have CR LF line ends only.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "smtp/data_reader.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

// Feeds `input` in chunks of `chunk` bytes and returns the bytes consumed.
std::size_t Feed(mailport::smtp::DataReader& reader, std::string_view input,
                 std::size_t chunk) {
  std::size_t offset = 0;
  while (offset < input.size() && !reader.done()) {
    std::string_view piece = input.substr(offset, chunk);
    std::size_t consumed = reader.Consume(piece);
    Check(consumed <= piece.size());
    Check(consumed == piece.size() || reader.done());
    offset += consumed;
  }
  return offset;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size < 2) return 0;
  std::size_t chunk = data[0] % 7 + 1;
  std::size_t limit = data[1] % 2 == 0 ? 0 : data[1] * 4;
  std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

  mailport::smtp::DataReader whole(limit);
  std::size_t whole_end = Feed(whole, input, input.size());
  mailport::smtp::DataReader pieces(limit);
  std::size_t pieces_end = Feed(pieces, input, chunk);

  Check(whole.done() == pieces.done());
  Check(whole_end == pieces_end);
  Check(whole.too_large() == pieces.too_large());
  Check(whole.content() == pieces.content());
  Check(whole.size() == pieces.size());
  if (limit != 0 && !whole.too_large()) Check(whole.size() <= limit);
  if (whole.too_large()) Check(whole.content().empty());

  const std::string& content = whole.content();
  for (std::size_t i = 0; i < content.size(); ++i) {
    if (content[i] == '\r') {
      Check(i + 1 < content.size() && content[i + 1] == '\n');
    } else if (content[i] == '\n') {
      Check(i > 0 && content[i - 1] == '\r');
    }
  }
  if (whole.done()) {
    // Only CR LF "." CR LF ends the data, with the first CR LF being the
    // one that ended the DATA command, so the consumed input ends in
    // ".\r\n" after a line start.
    Check(whole_end >= 3);
    Check(input.substr(whole_end - 3, 3) == ".\r\n");
  }
  return 0;
}
