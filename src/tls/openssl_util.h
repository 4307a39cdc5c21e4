// Internal helpers of the tls library: owning pointers for OpenSSL objects
// and text for the OpenSSL error queue.  Not part of the public interface.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

namespace mailport::tls {

template <auto FreeFunction>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* pointer) const {
    FreeFunction(pointer);
  }
};

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using SslSessionPtr =
    std::unique_ptr<SSL_SESSION, OpenSslDeleter<SSL_SESSION_free>>;

// Returns a read-only memory BIO over `data`, which must outlive it.
BioPtr MemoryBio(std::string_view data);

// Returns the contents of a memory BIO.
std::string BioContents(BIO* bio);

// Drains the calling thread's OpenSSL error queue into one line, e.g.
// "PEM routines::no start line"; returns `fallback` when the queue is empty.
std::string TakeOpenSslErrors(std::string_view fallback = "unknown error");

}  // namespace mailport::tls
