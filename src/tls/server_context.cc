#include "tls/server_context.h"

#include <openssl/pem.h>

#include <system_error>
#include <vector>

#include "tls/openssl_util.h"
#include "tls/self_signed.h"
#include "tls/session_cache.h"
#include "tls/ticket_keys.h"
#include "util/fs.h"
#include "util/log.h"

namespace mailport::tls {
namespace {

namespace stdfs = std::filesystem;
using config::TlsServerSettings;
using config::TlsVersion;

// Certificate and key paths after the self-signed fallback.
struct CertificateFiles {
  stdfs::path cert_file;
  stdfs::path key_file;
  // smtpd_tls_chain_files: each file contains a private key and its
  // certificate chain, leaf first; when set, cert_file and key_file are
  // not read (Postfix 3.4 and later give this parameter precedence too).
  std::vector<stdfs::path> chain_files;
  bool self_signed = false;
  bool generated_now = false;
};

struct LoadedCertificate {
  X509Ptr leaf;
  std::vector<X509Ptr> chain;
  EvpPkeyPtr key;
};

int OpenSslVersion(TlsVersion version) {
  switch (version) {
    case TlsVersion::kTls1_0:
      return TLS1_VERSION;
    case TlsVersion::kTls1_1:
      return TLS1_1_VERSION;
    case TlsVersion::kTls1_2:
      return TLS1_2_VERSION;
    case TlsVersion::kTls1_3:
      return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

// Returns 1 if `path` exists, 0 if it does not, or an error when the check
// itself failed (for example a directory on the way is not searchable).
Result<bool> FileExists(const stdfs::path& path, const std::string& name) {
  std::error_code error;
  bool exists = stdfs::exists(path, error);
  if (error) {
    return PermanentError(name + " " + path.string() +
                          ": cannot check the file: " + error.message() +
                          "; make the directory searchable by mailport");
  }
  return exists;
}

// Resolves the configured files, falling back to the self-signed pair in
// `data_directory` (generated on first use) when none is configured or a
// configured one is missing.
Result<CertificateFiles> ResolveFiles(const TlsServerSettings& settings,
                                      const stdfs::path& data_directory,
                                      const std::string& hostname) {
  CertificateFiles files;
  files.cert_file = settings.cert_file;
  // Postfix's default for smtpd_tls_key_file is $smtpd_tls_cert_file.
  files.key_file =
      settings.key_file.empty() ? settings.cert_file : settings.key_file;
  files.chain_files = settings.chain_files;

  std::string missing;
  if (!settings.chain_files.empty()) {
    for (const stdfs::path& chain_file : settings.chain_files) {
      Result<bool> exists = FileExists(chain_file, "smtpd_tls_chain_files");
      if (!exists) return exists.error();
      if (!*exists && missing.empty()) {
        missing = "smtpd_tls_chain_files entry " + chain_file.string() +
                  " does not exist";
      }
    }
    files.cert_file = settings.chain_files.front();
    files.key_file = settings.chain_files.front();
  } else if (settings.cert_file.empty()) {
    missing = "no certificate is configured (smtpd_tls_cert_file)";
  } else {
    Result<bool> cert_exists =
        FileExists(files.cert_file, "smtpd_tls_cert_file");
    if (!cert_exists) return cert_exists.error();
    Result<bool> key_exists = FileExists(files.key_file, "smtpd_tls_key_file");
    if (!key_exists) return key_exists.error();
    if (!*cert_exists) {
      missing =
          "smtpd_tls_cert_file " + files.cert_file.string() + " does not exist";
    } else if (!*key_exists) {
      missing =
          "smtpd_tls_key_file " + files.key_file.string() + " does not exist";
    }
  }
  if (missing.empty()) return files;

  if (data_directory.empty()) {
    return PermanentError(missing +
                          " and data_directory is empty, so no self-signed "
                          "certificate can be generated; set "
                          "smtpd_tls_cert_file and smtpd_tls_key_file");
  }
  stdfs::path directory = data_directory / "tls";
  files.cert_file = directory / "selfsigned-cert.pem";
  files.key_file = directory / "selfsigned-key.pem";
  files.chain_files.clear();
  files.self_signed = true;

  Result<bool> cert_exists = FileExists(files.cert_file, "certificate");
  if (!cert_exists) return cert_exists.error();
  Result<bool> key_exists = FileExists(files.key_file, "key");
  if (!key_exists) return key_exists.error();
  if (!*cert_exists || !*key_exists) {
    if (Status status = fs::CreateDirectories(directory, 0700); !status) {
      return status.error();
    }
    if (Status status =
            GenerateSelfSigned(files.cert_file, files.key_file, hostname);
        !status) {
      return PermanentError("generating a self-signed certificate in " +
                            directory.string() +
                            " failed: " + status.error().message);
    }
    files.generated_now = true;
  }
  log::Warn(
      "{}; using the self-signed certificate {} ({}); clients will "
      "warn about it until a certificate from a CA is configured",
      missing, files.cert_file.string(),
      files.generated_now ? "generated now" : "generated earlier");
  return files;
}

std::string FixForFile(bool self_signed) {
  return self_signed ? "delete it and its key file to generate a new "
                       "self-signed certificate"
                     : "fix the file or its permissions, or remove the "
                       "setting to use a self-signed certificate";
}

// Reads every PEM certificate in `path`, the first one being the leaf when
// `path` is the certificate file.
Result<std::vector<X509Ptr>> ReadCertificates(const stdfs::path& path,
                                              const std::string& name,
                                              bool self_signed) {
  Result<std::string> pem = fs::ReadFile(path);
  if (!pem) {
    return PermanentError(name + " " + path.string() + ": " +
                          pem.error().message + "; " + FixForFile(self_signed));
  }
  BioPtr bio = MemoryBio(*pem);
  std::vector<X509Ptr> certificates;
  while (X509* certificate =
             PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(certificate);
  }
  // Reading stops with "no start line" after the last certificate.
  std::string reason = TakeOpenSslErrors("no certificate found");
  if (certificates.empty()) {
    return PermanentError(name + " " + path.string() +
                          ": invalid certificate file (" + reason +
                          "); it must contain PEM certificates (\"-----BEGIN "
                          "CERTIFICATE-----\"), the server's first; " +
                          FixForFile(self_signed));
  }
  return certificates;
}

// Fails instead of asking for a passphrase on the terminal.
int NoPassphrase(char*, int, int, void*) { return -1; }

Result<EvpPkeyPtr> ReadKey(const stdfs::path& path, const std::string& name,
                           bool self_signed) {
  Result<std::string> pem = fs::ReadFile(path);
  if (!pem) {
    return PermanentError(name + " " + path.string() + ": " +
                          pem.error().message + "; " + FixForFile(self_signed));
  }
  BioPtr bio = MemoryBio(*pem);
  EvpPkeyPtr key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    return PermanentError(name + " " + path.string() +
                          ": invalid private key (" + TakeOpenSslErrors() +
                          "); it must contain an unencrypted PEM private "
                          "key; " +
                          FixForFile(self_signed));
  }
  return key;
}

// Loads a leaf certificate with its chain from `cert_file` and its key from
// `key_file` (which may be the same file).
Result<LoadedCertificate> LoadPair(const stdfs::path& cert_file,
                                   const std::string& cert_name,
                                   const stdfs::path& key_file,
                                   const std::string& key_name,
                                   bool self_signed) {
  LoadedCertificate loaded;
  Result<std::vector<X509Ptr>> certificates =
      ReadCertificates(cert_file, cert_name, self_signed);
  if (!certificates) return certificates.error();
  loaded.leaf = std::move(certificates->front());
  for (std::size_t i = 1; i < certificates->size(); ++i) {
    loaded.chain.push_back(std::move((*certificates)[i]));
  }

  Result<EvpPkeyPtr> key = ReadKey(key_file, key_name, self_signed);
  if (!key) return key.error();
  loaded.key = std::move(*key);
  if (X509_check_private_key(loaded.leaf.get(), loaded.key.get()) != 1) {
    TakeOpenSslErrors();
    return PermanentError(
        "the private key in " + key_name + " " + key_file.string() +
        " does not match the certificate in " + cert_name + " " +
        cert_file.string() +
        "; configure the key that belongs to this certificate (the output "
        "of `openssl x509 -noout -pubkey -in CERT` and `openssl pkey "
        "-pubout -in KEY` must be equal)");
  }
  return loaded;
}

// Returns one certificate per key: one from cert_file and key_file, or one
// per smtpd_tls_chain_files entry (for example an RSA and an ECDSA one).
Result<std::vector<LoadedCertificate>> LoadCertificates(
    const CertificateFiles& files) {
  std::vector<LoadedCertificate> loaded;
  if (files.chain_files.empty()) {
    Result<LoadedCertificate> pair =
        LoadPair(files.cert_file, "smtpd_tls_cert_file", files.key_file,
                 "smtpd_tls_key_file", files.self_signed);
    if (!pair) return pair.error();
    loaded.push_back(std::move(*pair));
    return loaded;
  }
  for (const stdfs::path& chain_file : files.chain_files) {
    Result<LoadedCertificate> pair =
        LoadPair(chain_file, "smtpd_tls_chain_files", chain_file,
                 "smtpd_tls_chain_files", false);
    if (!pair) return pair.error();
    loaded.push_back(std::move(*pair));
  }
  return loaded;
}

void FreeX509Stack(STACK_OF(X509) * stack) { sk_X509_free(stack); }
using X509StackPtr =
    std::unique_ptr<STACK_OF(X509), OpenSslDeleter<FreeX509Stack>>;

Status InstallCertificate(SSL_CTX* context, LoadedCertificate& loaded) {
  X509StackPtr chain(sk_X509_new_null());
  for (X509Ptr& certificate : loaded.chain) {
    sk_X509_push(chain.get(), certificate.get());
  }
  // The stack only borrows the certificates; OpenSSL copies what it keeps.
  if (SSL_CTX_use_cert_and_key(context, loaded.leaf.get(), loaded.key.get(),
                               chain.get(), 1) != 1) {
    return PermanentError("installing the certificate failed: " +
                          TakeOpenSslErrors());
  }
  return Status::Ok();
}

Status ConfigureProtocols(SSL_CTX* context, const TlsServerSettings& settings) {
  // TLS 1.0 is the floor whatever the configuration: SSLv3 is broken
  // (RFC 7568) and the enum cannot express it anyway.
  TlsVersion min_version = std::max(settings.min_version, TlsVersion::kTls1_0);
  TlsVersion max_version = settings.max_version;
  if (min_version > max_version) {
    return PermanentError(
        "smtpd_tls_protocols excludes every TLS version: the lowest allowed "
        "version is above the highest; allow at least TLSv1.2");
  }
  if (SSL_CTX_set_min_proto_version(context, OpenSslVersion(min_version)) !=
          1 ||
      SSL_CTX_set_max_proto_version(context, OpenSslVersion(max_version)) !=
          1) {
    return PermanentError("setting the TLS protocol range failed: " +
                          TakeOpenSslErrors());
  }

  std::string ciphers = settings.ciphers;
  // OpenSSL 3 refuses TLS 1.0 and 1.1 at security level 1 and above because
  // their handshake signatures use SHA-1; allowing them means level 0.
  if (min_version < TlsVersion::kTls1_2) {
    if (ciphers.empty()) ciphers = "DEFAULT";
    ciphers += ":@SECLEVEL=0";
    log::Warn(
        "smtpd_tls_protocols allows TLS versions below 1.2, which need "
        "OpenSSL security level 0; exclude TLSv1 and TLSv1.1 unless "
        "old clients require them");
  }
  if (!ciphers.empty() &&
      SSL_CTX_set_cipher_list(context, ciphers.c_str()) != 1) {
    return PermanentError("invalid TLS cipher list \"" + settings.ciphers +
                          "\": " + TakeOpenSslErrors() +
                          "; see `openssl ciphers -v LIST` for valid lists");
  }

  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION |
                                   SSL_OP_CIPHER_SERVER_PREFERENCE |
                                   SSL_OP_NO_COMPRESSION);
  return Status::Ok();
}

// Binds cached sessions to this certificate: a session from a context
// with another certificate is not resumed (RFC 5246 section 7.4.1.2 lets
// the server choose).
void SetSessionIdContext(SSL_CTX* context, const std::string& fingerprint) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  std::string input = "mailport smtpd " + fingerprint;
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha256(),
             nullptr);
  SSL_CTX_set_session_id_context(
      context, digest, std::min<unsigned int>(length, SSL_MAX_SID_CTX_LENGTH));
}

}  // namespace

struct ServerContext::Impl {
  std::shared_ptr<SessionCache> session_cache;
  std::unique_ptr<TicketKeys> ticket_keys;
};

ServerContext::ServerContext()
    : context_(asio::ssl::context::tls_server),
      impl_(std::make_unique<Impl>()) {}

ServerContext::~ServerContext() {
  // Handshakes that still hold the SSL_CTX must not reach freed objects.
  SSL_CTX* context = context_.native_handle();
  TicketKeys::Uninstall(context);
  SessionCache::Uninstall(context);
}

SessionCache* ServerContext::session_cache() const {
  return impl_->session_cache.get();
}

TicketKeys* ServerContext::ticket_keys() const {
  return impl_->ticket_keys.get();
}

Result<std::shared_ptr<ServerContext>> ServerContext::Create(
    const TlsServerSettings& settings, const stdfs::path& data_directory,
    const std::string& hostname) {
  return CreateForTesting(settings, data_directory, hostname, SystemClock());
}

Result<std::shared_ptr<ServerContext>> ServerContext::CreateForTesting(
    const TlsServerSettings& settings, const stdfs::path& data_directory,
    const std::string& hostname, Clock clock) {
  std::shared_ptr<ServerContext> server;
  try {
    server.reset(new ServerContext());
  } catch (const std::system_error& error) {
    return PermanentError("creating the TLS context failed: " +
                          std::string(error.what()));
  }
  if (Status status =
          server->Configure(settings, data_directory, hostname, clock);
      !status) {
    return status.error();
  }
  return server;
}

Status ServerContext::Configure(const TlsServerSettings& settings,
                                const stdfs::path& data_directory,
                                const std::string& hostname, Clock clock) {
  SSL_CTX* context = context_.native_handle();
  loglevel_ = settings.loglevel;

  Result<CertificateFiles> files =
      ResolveFiles(settings, data_directory, hostname);
  if (!files) return files.error();
  Result<std::vector<LoadedCertificate>> loaded = LoadCertificates(*files);
  if (!loaded) return loaded.error();
  for (LoadedCertificate& certificate : *loaded) {
    if (Status status = InstallCertificate(context, certificate); !status) {
      return status;
    }
  }
  cert_file_ = files->cert_file;
  self_signed_generated_ = files->self_signed;
  fingerprint_ = Sha256Fingerprint(loaded->front().leaf.get());
  if (files->self_signed) {
    log::Warn(
        "self-signed certificate {} has SHA-256 fingerprint {}; "
        "compare it with what mail clients show before accepting it",
        cert_file_.string(), fingerprint_);
  } else {
    log::Info("TLS certificate {} has SHA-256 fingerprint {}",
              cert_file_.string(), fingerprint_);
  }

  if (Status status = ConfigureProtocols(context, settings); !status) {
    return status;
  }

  SetSessionIdContext(context, fingerprint_);
  const auto timeout =
      std::max(settings.session_cache_timeout, std::chrono::seconds(1));
  SSL_CTX_set_timeout(context, static_cast<long>(timeout.count()));

  if (settings.session_tickets) {
    // Rotating at the session timeout keeps every ticket decryptable for
    // at least its advertised lifetime (see ticket_keys.h).
    impl_->ticket_keys = std::make_unique<TicketKeys>(timeout, 1, clock);
    impl_->ticket_keys->Install(context);
  } else {
    SSL_CTX_set_options(context, SSL_OP_NO_TICKET);
  }

  if (settings.session_cache_path.empty()) {
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  } else {
    Result<std::shared_ptr<SessionCache>> cache =
        SessionCache::Open(settings.session_cache_path, clock);
    if (!cache) return cache.error();
    impl_->session_cache = std::move(*cache);
    impl_->session_cache->Install(context);
  }
  return Status::Ok();
}

}  // namespace mailport::tls
