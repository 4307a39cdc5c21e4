#include "tls/self_signed.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tls/openssl_util.h"
#include "util/fs.h"

namespace mailport::tls {
namespace {

using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using ExtensionPtr =
    std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;

bool IsIpAddress(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

// A host name for the certificate must not smuggle extra entries into the
// OpenSSL extension syntax ("DNS:a,DNS:b").
bool IsValidHostname(const std::string& text) {
  if (text.empty() || text.size() > 253) return false;
  for (char c : text) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':';
    if (!allowed) return false;
  }
  return true;
}

Status AddExtension(X509* certificate, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
  ExtensionPtr extension(
      X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
  if (!extension || !X509_add_ext(certificate, extension.get(), -1)) {
    return PermanentError("adding certificate extension " +
                          std::string(OBJ_nid2sn(nid)) + "=" + value +
                          " failed: " + TakeOpenSslErrors());
  }
  return Status::Ok();
}

// RFC 5280 section 4.1.2.2: a positive serial of at most 20 octets; 16 random
// bytes with the top bit cleared keep it positive and unpredictable.
Status SetRandomSerial(X509* certificate) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return PermanentError("random serial number failed: " +
                          TakeOpenSslErrors());
  }
  bytes[0] &= 0x7f;
  BignumPtr serial(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (!serial ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate)) ==
          nullptr) {
    return PermanentError("setting the serial number failed: " +
                          TakeOpenSslErrors());
  }
  return Status::Ok();
}

Result<X509Ptr> BuildCertificate(EVP_PKEY* key, const std::string& hostname,
                                 int days) {
  X509Ptr certificate(X509_new());
  if (!certificate || !X509_set_version(certificate.get(), 2)) {
    return PermanentError("X509_new failed: " + TakeOpenSslErrors());
  }
  if (Status status = SetRandomSerial(certificate.get()); !status) {
    return status.error();
  }

  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), 0);
  X509_time_adj_ex(X509_getm_notAfter(certificate.get()), days, 0, nullptr);
  X509_NAME* name = X509_get_subject_name(certificate.get());
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1, 0);
  X509_set_issuer_name(certificate.get(), name);
  X509_set_pubkey(certificate.get(), key);

  std::string alt_name = (IsIpAddress(hostname) ? "IP:" : "DNS:") + hostname;
  const std::pair<int, std::string> extensions[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_alt_name, alt_name},
      {NID_subject_key_identifier, "hash"},
  };
  for (const auto& [nid, value] : extensions) {
    if (Status status = AddExtension(certificate.get(), nid, value); !status) {
      return status.error();
    }
  }

  if (X509_sign(certificate.get(), key, EVP_sha256()) <= 0) {
    return PermanentError("signing the certificate failed: " +
                          TakeOpenSslErrors());
  }
  return certificate;
}

}  // namespace

Status GenerateSelfSigned(const std::filesystem::path& cert_file,
                          const std::filesystem::path& key_file,
                          const std::string& hostname, int days) {
  if (!IsValidHostname(hostname)) {
    return PermanentError("invalid host name \"" + hostname +
                          "\" for a self-signed certificate: use letters, "
                          "digits, '-', '.' or an IP address");
  }
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) {
    return PermanentError("ECDSA P-256 key generation failed: " +
                          TakeOpenSslErrors());
  }
  Result<X509Ptr> certificate = BuildCertificate(key.get(), hostname, days);
  if (!certificate) return certificate.error();

  BioPtr key_pem(BIO_new(BIO_s_mem()));
  BioPtr cert_pem(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(key_pem.get(), key.get(), nullptr, nullptr, 0,
                                nullptr, nullptr) ||
      !PEM_write_bio_X509(cert_pem.get(), certificate->get())) {
    return PermanentError("PEM encoding failed: " + TakeOpenSslErrors());
  }

  // The key goes first: a certificate on disk without its key would be
  // reused and fail, while a lone key is simply replaced next time.
  if (Status status =
          fs::WriteFileDurably(key_file, BioContents(key_pem.get()), 0600);
      !status) {
    return status;
  }
  return fs::WriteFileDurably(cert_file, BioContents(cert_pem.get()), 0644);
}

std::string Sha256Fingerprint(X509* certificate) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(certificate, EVP_sha256(), digest, &length) != 1) return {};
  std::string text;
  for (unsigned int i = 0; i < length; ++i) {
    if (i > 0) text += ':';
    text += kHex[digest[i] >> 4];
    text += kHex[digest[i] & 0xf];
  }
  return text;
}

Result<std::string> FileFingerprint(const std::filesystem::path& cert_file) {
  Result<std::string> pem = fs::ReadFile(cert_file);
  if (!pem) return pem.error();
  BioPtr bio = MemoryBio(*pem);
  X509Ptr certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!certificate) {
    return PermanentError(
        cert_file.string() +
        " contains no PEM certificate: " + TakeOpenSslErrors());
  }
  return Sha256Fingerprint(certificate.get());
}

}  // namespace mailport::tls
