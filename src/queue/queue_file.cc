#include "queue/queue_file.h"

#include <fmt/format.h>

#include <charconv>
#include <vector>

namespace mailport::queue {
namespace {

constexpr std::string_view kQueueMagic = "mailport-queue 1";
constexpr std::string_view kStateMagic = "mailport-state 1";
// "end " + 16 hex digits + "\n".
constexpr std::size_t kTrailerLength = 21;

int64_t ToMicros(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             time.time_since_epoch())
      .count();
}

std::chrono::system_clock::time_point FromMicros(int64_t micros) {
  return std::chrono::system_clock::time_point(
      std::chrono::microseconds(micros));
}

template <typename Integer>
bool ParseInteger(std::string_view text, Integer& out) {
  if (text.empty()) return false;
  auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits "key value" at the first space; a line without one has an empty
// value.
std::pair<std::string_view, std::string_view> SplitKey(std::string_view line) {
  auto space = line.find(' ');
  if (space == std::string_view::npos) return {line, {}};
  return {line.substr(0, space), line.substr(space + 1)};
}

std::vector<std::string_view> SplitSpaces(std::string_view text) {
  std::vector<std::string_view> fields;
  while (true) {
    auto space = text.find(' ');
    fields.push_back(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return fields;
}

// Checks the trailer of `data` and returns the bytes it covers.  The
// trailer has a fixed length, so content need not end with a line break.
Result<std::string_view> VerifyTrailer(std::string_view data) {
  if (data.size() < kTrailerLength || data.back() != '\n') {
    return PermanentError("file does not end with an end line (truncated?)");
  }
  std::size_t trailer_start = data.size() - kTrailerLength;
  std::string_view trailer = data.substr(trailer_start, kTrailerLength - 1);
  if (trailer.substr(0, 4) != "end ") {
    return PermanentError("missing end line (file truncated?)");
  }
  uint64_t stored = 0;
  std::string_view hex = trailer.substr(4);
  auto [end, error] =
      std::from_chars(hex.data(), hex.data() + hex.size(), stored, 16);
  if (error != std::errc() || end != hex.data() + hex.size()) {
    return PermanentError("invalid end line");
  }
  std::string_view covered = data.substr(0, trailer_start);
  Checksum checksum;
  checksum.Update(covered);
  if (checksum.value() != stored) {
    return PermanentError("checksum mismatch (file damaged)");
  }
  return covered;
}

const char* StatusName(RecipientState::Status status) {
  switch (status) {
    case RecipientState::Status::kPending:
      return "pending";
    case RecipientState::Status::kDelivered:
      return "delivered";
    case RecipientState::Status::kBounced:
      return "bounced";
  }
  return "pending";
}

bool ParseStatus(std::string_view name, RecipientState::Status& status) {
  if (name == "pending") {
    status = RecipientState::Status::kPending;
  } else if (name == "delivered") {
    status = RecipientState::Status::kDelivered;
  } else if (name == "bounced") {
    status = RecipientState::Status::kBounced;
  } else {
    return false;
  }
  return true;
}

// Assigns one header field of a queue file; returns false for a key this
// version does not know, which the caller skips.
bool AssignEnvelopeField(std::string_view key, std::string value,
                         Envelope& envelope) {
  if (key == "sender") {
    envelope.sender = std::move(value);
  } else if (key == "client_name") {
    envelope.client_name = std::move(value);
  } else if (key == "client_address") {
    envelope.client_address = std::move(value);
  } else if (key == "helo_name") {
    envelope.helo_name = std::move(value);
  } else if (key == "sasl_username") {
    envelope.sasl_username = std::move(value);
  } else if (key == "protocol") {
    envelope.protocol = std::move(value);
  } else if (key == "body_type") {
    envelope.body_type = std::move(value);
  } else if (key == "recipient") {
    envelope.recipients.push_back(std::move(value));
  } else {
    return false;
  }
  return true;
}

}  // namespace

void Checksum::Update(std::string_view data) {
  for (unsigned char byte : data) {
    hash_ ^= byte;
    hash_ *= 1099511628211ull;
  }
}

std::string EscapeValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f || c == '%') {
      out += fmt::format("%{:02X}", byte);
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::string> UnescapeValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%') {
      out += value[i];
      continue;
    }
    if (i + 2 >= value.size()) {
      return PermanentError("truncated %-escape in value");
    }
    int high = HexDigit(value[i + 1]);
    int low = HexDigit(value[i + 2]);
    if (high < 0 || low < 0) {
      return PermanentError("invalid %-escape in value");
    }
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

std::string EncodeQueueHeader(const Envelope& envelope,
                              std::size_t content_size) {
  std::string out;
  out += kQueueMagic;
  out += '\n';
  out += fmt::format("id {}\n", envelope.queue_id);
  out += fmt::format("arrival {}\n", ToMicros(envelope.arrival_time));
  auto field = [&out](std::string_view key, std::string_view value) {
    out += key;
    out += ' ';
    out += EscapeValue(value);
    out += '\n';
  };
  field("sender", envelope.sender);
  field("client_name", envelope.client_name);
  field("client_address", envelope.client_address);
  field("helo_name", envelope.helo_name);
  field("sasl_username", envelope.sasl_username);
  field("protocol", envelope.protocol);
  field("body_type", envelope.body_type);
  for (const auto& recipient : envelope.recipients) {
    field("recipient", recipient);
  }
  out += fmt::format("size {}\n\n", content_size);
  return out;
}

std::string EncodeTrailer(uint64_t checksum) {
  return fmt::format("end {:016x}\n", checksum);
}

Result<DecodedQueueFile> DecodeQueueFile(std::string_view data) {
  auto covered = VerifyTrailer(data);
  if (!covered) return covered.error();
  std::string_view rest = *covered;

  DecodedQueueFile decoded;
  bool first = true;
  bool have_id = false;
  bool have_arrival = false;
  bool have_size = false;
  std::size_t size = 0;
  while (true) {
    auto newline = rest.find('\n');
    if (newline == std::string_view::npos) {
      return PermanentError("header is not terminated by a blank line");
    }
    std::string_view line = rest.substr(0, newline);
    rest.remove_prefix(newline + 1);
    if (first) {
      if (line != kQueueMagic) return PermanentError("not a queue file");
      first = false;
      continue;
    }
    if (line.empty()) break;

    auto [key, raw_value] = SplitKey(line);
    auto value = UnescapeValue(raw_value);
    if (!value) return value.error();
    if (key == "id") {
      decoded.envelope.queue_id = *value;
      have_id = true;
    } else if (key == "arrival") {
      int64_t micros = 0;
      if (!ParseInteger(*value, micros)) {
        return PermanentError("invalid arrival line");
      }
      decoded.envelope.arrival_time = FromMicros(micros);
      have_arrival = true;
    } else if (key == "size") {
      if (!ParseInteger(*value, size)) {
        return PermanentError("invalid size line");
      }
      have_size = true;
    } else {
      // Keys from a later format version are skipped, not rejected.
      AssignEnvelopeField(key, std::move(*value), decoded.envelope);
    }
  }

  if (!have_id || !have_arrival || !have_size) {
    return PermanentError("header lacks the id, arrival or size line");
  }
  if (decoded.envelope.recipients.empty()) {
    return PermanentError("header has no recipient");
  }
  if (rest.size() != size) {
    return PermanentError(
        fmt::format("content is {} bytes, header says {}", rest.size(), size));
  }
  decoded.content = rest;
  return decoded;
}

std::string EncodeStateFile(const QueuedMessage& message) {
  std::string out;
  out += kStateMagic;
  out += '\n';
  out += fmt::format("id {}\n", message.envelope.queue_id);
  out += fmt::format("next_attempt {}\n", ToMicros(message.next_attempt));
  for (const auto& recipient : message.recipients) {
    out += fmt::format("recipient {} {} {} {}\n", StatusName(recipient.status),
                       recipient.attempts, EscapeValue(recipient.address),
                       EscapeValue(recipient.last_reply));
  }
  Checksum checksum;
  checksum.Update(out);
  out += EncodeTrailer(checksum.value());
  return out;
}

Status DecodeStateFile(std::string_view data, QueuedMessage& message) {
  auto covered = VerifyTrailer(data);
  if (!covered) return covered.error();
  std::string_view rest = *covered;

  bool first = true;
  bool have_next_attempt = false;
  std::size_t index = 0;
  while (!rest.empty()) {
    auto newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest.remove_prefix(newline + 1);
    if (first) {
      if (line != kStateMagic) return PermanentError("not a state file");
      first = false;
      continue;
    }

    auto [key, value] = SplitKey(line);
    if (key == "id") {
      if (value != message.envelope.queue_id) {
        return PermanentError("state file belongs to another queue id");
      }
    } else if (key == "next_attempt") {
      int64_t micros = 0;
      if (!ParseInteger(value, micros)) {
        return PermanentError("invalid next_attempt line");
      }
      message.next_attempt = FromMicros(micros);
      have_next_attempt = true;
    } else if (key == "recipient") {
      auto fields = SplitSpaces(value);
      if (fields.size() != 4 || index >= message.recipients.size()) {
        return PermanentError("invalid recipient line");
      }
      RecipientState& state = message.recipients[index++];
      auto address = UnescapeValue(fields[2]);
      auto reply = UnescapeValue(fields[3]);
      if (!address || !reply || *address != state.address ||
          !ParseStatus(fields[0], state.status) ||
          !ParseInteger(fields[1], state.attempts)) {
        return PermanentError("recipient line does not match the queue file");
      }
      state.last_reply = std::move(*reply);
    }
  }
  if (first || !have_next_attempt || index != message.recipients.size()) {
    return PermanentError("state file is incomplete");
  }
  return Status::Ok();
}

}  // namespace mailport::queue
