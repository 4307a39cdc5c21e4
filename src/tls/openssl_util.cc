#include "tls/openssl_util.h"

#include <openssl/err.h>

namespace mailport::tls {

BioPtr MemoryBio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  if (length <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(length));
}

std::string TakeOpenSslErrors(std::string_view fallback) {
  std::string text;
  unsigned long code = 0;
  // The first error is the root cause; later ones add the calling context.
  while ((code = ERR_get_error()) != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    const char* library = ERR_lib_error_string(code);
    const char* reason = ERR_reason_error_string(code);
    if (!text.empty()) text += "; ";
    if (library != nullptr && reason != nullptr) {
      text += std::string(library) + ": " + reason;
    } else {
      text += buffer;
    }
  }
  return text.empty() ? std::string(fallback) : text;
}

}  // namespace mailport::tls
