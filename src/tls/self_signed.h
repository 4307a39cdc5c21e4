// Self-signed certificate generation and fingerprints.
//
// GenerateSelfSigned() writes what a mail server needs when no certificate
// from a CA is configured: an ECDSA P-256 key and an X.509 v3 certificate
// with the host name as subject CN and as subjectAltName (RFC 5280 section
// 4.2.1.6), basicConstraints CA:FALSE, keyUsage digitalSignature and
// extendedKeyUsage serverAuth.  It is signed with SHA-256 and has a random
// 127-bit serial number.  A literal IPv4 or IPv6 address becomes an
// iPAddress subjectAltName entry instead of a dNSName.
// Clients cannot verify such a certificate against a CA; the user checks its
// SHA-256 fingerprint once and accepts it permanently (or pins it).
//
// Errors are permanent (invalid host name, OpenSSL failure) or temporary
// (the disk write failed); nothing is written on failure except possibly
// the key file, which is harmless because generation replaces both files.
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
