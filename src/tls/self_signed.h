// Self-signed certificate generation and fingerprints.
#pragma once

#include <openssl/x509.h>

#include <filesystem>
#include <string>

#include "util/result.h"

namespace mailport::tls {

// Writes a new key (ECDSA P-256) and a self-signed X.509 v3 certificate for
// `hostname` (subject CN and subjectAltName DNS) valid for `days` days.
// The key file gets mode 0600; both files are written durably.
Status GenerateSelfSigned(const std::filesystem::path& cert_file,
                          const std::filesystem::path& key_file,
                          const std::string& hostname, int days = 3650);

// Returns "AB:CD:..." (upper-case hex pairs) of SHA-256 over the DER form.
std::string Sha256Fingerprint(X509* certificate);

// Reads the first certificate of a PEM file and returns its fingerprint.
Result<std::string> FileFingerprint(const std::filesystem::path& cert_file);

}  // namespace mailport::tls
