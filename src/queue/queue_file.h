// Encoding of queue files and recipient state files (docs/queue-format.md).
//
// Both are line-based text with one "key value" per line, values escaped
// as %HH for bytes 0x00-0x20, 0x7f and '%', and end with a line
// "end CHECKSUM" that carries the FNV-1a 64-bit hash of every byte before
// it.  A missing or wrong trailer means the file is truncated or damaged;
// the decoders return a permanent error naming what is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "queue/envelope.h"
#include "queue/spool.h"
#include "util/result.h"

namespace mailport::queue {

// FNV-1a, 64 bits: cheap, and enough to catch truncation and bit rot
// (this is no defence against a deliberate forgery).
class Checksum {
 public:
  void Update(std::string_view data);
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 14695981039346656037ull;
};

std::string EscapeValue(std::string_view value);
Result<std::string> UnescapeValue(std::string_view value);

// The header of a queue file, up to and including the blank line that
// precedes the content.
std::string EncodeQueueHeader(const Envelope& envelope,
                              std::size_t content_size);
// The final line of a queue or state file.
std::string EncodeTrailer(uint64_t checksum);

struct DecodedQueueFile {
  Envelope envelope;
  std::string_view content;  // points into the decoded buffer
};

// Decodes and verifies a whole queue file.
Result<DecodedQueueFile> DecodeQueueFile(std::string_view data);

// The recipient state file: status, attempts and last reply per recipient,
// plus the next attempt time.
std::string EncodeStateFile(const QueuedMessage& message);

// Applies the state file `data` to `message`, whose recipients must be the
// ones of the queue file, in the same order.
Status DecodeStateFile(std::string_view data, QueuedMessage& message);

}  // namespace mailport::queue
