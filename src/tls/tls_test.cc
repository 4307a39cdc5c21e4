// Real OpenSSL handshakes between a client SSL_CTX and a ServerContext over
// a memory BIO pair, plus one over TCP loopback through asio::ssl::stream.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/settings.h"
#include "tls/openssl_util.h"
#include "tls/self_signed.h"
#include "tls/server_context.h"
#include "tls/session_cache.h"
#include "tls/ticket_keys.h"
#include "util/fs.h"
#include "util/log.h"

namespace mailport::tls {
namespace {

namespace stdfs = std::filesystem;
using config::TlsServerSettings;
using config::TlsVersion;
using std::chrono::seconds;
using std::chrono::system_clock;

using SslPtr = std::unique_ptr<SSL, OpenSslDeleter<SSL_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, OpenSslDeleter<SSL_CTX_free>>;

// Clock that advances only when the test calls Advance().
class FakeClock {
 public:
  Clock AsClock() {
    return [this] { return system_clock::time_point(seconds(now_.load())); };
  }
  void Advance(seconds delta) { now_ += delta.count(); }
  system_clock::time_point Now() const {
    return system_clock::time_point(seconds(now_.load()));
  }

 private:
  std::atomic<std::int64_t> now_{1'700'000'000};
};

// Collects every log line for the lifetime of the object.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    sink_->set_pattern("%v");
    log::Get().sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = log::Get().sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  std::vector<std::string> Lines(const std::string& containing) const {
    std::vector<std::string> lines;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) {
      if (line.find(containing) != std::string::npos) lines.push_back(line);
    }
    return lines;
  }
  std::string Text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

struct HandshakeResult {
  bool ok = false;
  bool resumed = false;
  std::string version;
  std::string server_error;  // DescribeError() of the server's failure
  SslSessionPtr session;     // the client's session, for resumption
  SslPtr server;
};

SslCtxPtr ClientContext(int min_version = 0, int max_version = 0) {
  SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  if (min_version != 0) {
    SSL_CTX_set_min_proto_version(context.get(), min_version);
  }
  if (max_version != 0) {
    SSL_CTX_set_max_proto_version(context.get(), max_version);
  }
  if (max_version != 0 && max_version < TLS1_2_VERSION) {
    // OpenSSL 3 offers TLS 1.0 and 1.1 only at security level 0.
    SSL_CTX_set_cipher_list(context.get(), "DEFAULT:@SECLEVEL=0");
  }
  return context;
}

// Runs a full handshake in memory, then moves one byte server to client so
// that the client processes the TLS 1.3 tickets sent after the handshake.
HandshakeResult Handshake(ServerContext& server_context,
                          SSL_CTX* client_context,
                          SSL_SESSION* resume = nullptr) {
  HandshakeResult result;
  result.server.reset(SSL_new(server_context.native().native_handle()));
  SslPtr client(SSL_new(client_context));
  if (resume != nullptr) SSL_set_session(client.get(), resume);
  SSL_set_tlsext_host_name(client.get(), "mail.example.test");

  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_bio(result.server.get(), server_bio, server_bio);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(result.server.get());

  bool client_done = false;
  bool server_done = false;
  for (int round = 0; round < 50 && !(client_done && server_done); ++round) {
    if (!client_done) {
      int rc = SSL_do_handshake(client.get());
      if (rc == 1) {
        client_done = true;
      } else if (SSL_get_error(client.get(), rc) != SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        break;
      }
    }
    if (!server_done) {
      int rc = SSL_do_handshake(result.server.get());
      if (rc == 1) {
        server_done = true;
      } else if (SSL_get_error(result.server.get(), rc) !=
                 SSL_ERROR_WANT_READ) {
        unsigned long code = ERR_peek_error();
        result.server_error = DescribeError(std::error_code(
            static_cast<int>(code), asio::error::get_ssl_category()));
        ERR_clear_error();
        break;
      }
    }
  }
  if (!(client_done && server_done)) return result;

  char byte = 'x';
  if (SSL_write(result.server.get(), &byte, 1) != 1) return result;
  if (SSL_read(client.get(), &byte, 1) != 1) return result;
  result.ok = true;
  result.resumed = SSL_session_reused(client.get()) == 1;
  result.version = SSL_get_version(client.get());
  result.session.reset(SSL_get1_session(client.get()));

  // OpenSSL marks the session of a connection freed without close_notify
  // as not resumable and removes it from the server's cache.
  SSL_shutdown(client.get());
  SSL_shutdown(result.server.get());
  return result;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tls_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  std::shared_ptr<ServerContext> MustCreate(const TlsServerSettings& settings) {
    Result<std::shared_ptr<ServerContext>> server =
        ServerContext::CreateForTesting(settings, dir_ / "data",
                                        "mail.example.test", clock_.AsClock());
    EXPECT_TRUE(server.ok()) << (server.ok() ? "" : server.error().message);
    return server.ok() ? *server : nullptr;
  }

  stdfs::path dir_;
  FakeClock clock_;
};

std::string ReadText(const stdfs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string RunCommand(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  pclose(pipe);
  return output;
}

TEST_F(TlsTest, NegotiatesTls13ByDefault) {
  auto server = MustCreate(TlsServerSettings{});
  ASSERT_TRUE(server);
  SslCtxPtr client = ClientContext();
  HandshakeResult result = Handshake(*server, client.get());
  ASSERT_TRUE(result.ok);
  EXPECT_EQ(result.version, "TLSv1.3");
}

TEST_F(TlsTest, NegotiatesTls12) {
  auto server = MustCreate(TlsServerSettings{});
  ASSERT_TRUE(server);
  SslCtxPtr client = ClientContext(0, TLS1_2_VERSION);
  HandshakeResult result = Handshake(*server, client.get());
  ASSERT_TRUE(result.ok);
  EXPECT_EQ(result.version, "TLSv1.2");
}

TEST_F(TlsTest, RejectsTls11ByDefault) {
  auto server = MustCreate(TlsServerSettings{});
  ASSERT_TRUE(server);
  SslCtxPtr client = ClientContext(TLS1_1_VERSION, TLS1_1_VERSION);
  HandshakeResult result = Handshake(*server, client.get());
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.server_error.find("smtpd_tls_protocols"), std::string::npos)
      << result.server_error;
}

TEST_F(TlsTest, AcceptsTls11WhenConfigured) {
  TlsServerSettings settings;
  settings.min_version = TlsVersion::kTls1_1;
  auto server = MustCreate(settings);
  ASSERT_TRUE(server);
  SslCtxPtr client = ClientContext(TLS1_1_VERSION, TLS1_1_VERSION);
  HandshakeResult result = Handshake(*server, client.get());
  ASSERT_TRUE(result.ok);
  EXPECT_EQ(result.version, "TLSv1.1");
}

TEST_F(TlsTest, RejectsEmptyProtocolRange) {
  TlsServerSettings settings;
  settings.min_version = TlsVersion::kTls1_3;
  settings.max_version = TlsVersion::kTls1_2;
  auto server = ServerContext::Create(settings, dir_, "mail.example.test");
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.error().message.find("smtpd_tls_protocols"),
            std::string::npos);
}

TEST_F(TlsTest, RejectsInvalidCipherList) {
  TlsServerSettings settings;
  settings.ciphers = "NO-SUCH-CIPHER";
  auto server = ServerContext::Create(settings, dir_, "mail.example.test");
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.error().message.find("NO-SUCH-CIPHER"), std::string::npos);
}

TEST_F(TlsTest, SelfSignedCreatedOnceAndReused) {
  LogCapture capture;
  auto first = MustCreate(TlsServerSettings{});
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->self_signed_generated());
  const stdfs::path cert = dir_ / "data/tls/selfsigned-cert.pem";
  const stdfs::path key = dir_ / "data/tls/selfsigned-key.pem";
  EXPECT_EQ(first->cert_file(), cert);
  ASSERT_TRUE(stdfs::exists(cert));
  ASSERT_TRUE(stdfs::exists(key));
  struct stat key_stat;
  ASSERT_EQ(stat(key.c_str(), &key_stat), 0);
  EXPECT_EQ(key_stat.st_mode & 0777, 0600u);
  EXPECT_NE(capture.Text().find("generated now"), std::string::npos);
  EXPECT_NE(capture.Text().find(first->fingerprint()), std::string::npos);

  const std::string cert_pem = ReadText(cert);
  const std::string key_pem = ReadText(key);
  auto second = MustCreate(TlsServerSettings{});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->fingerprint(), first->fingerprint());
  EXPECT_EQ(ReadText(cert), cert_pem);
  EXPECT_EQ(ReadText(key), key_pem);
  EXPECT_NE(capture.Text().find("generated earlier"), std::string::npos);
}

TEST_F(TlsTest, FingerprintMatchesOpensslCommand) {
  auto server = MustCreate(TlsServerSettings{});
  ASSERT_TRUE(server);
  std::string output =
      RunCommand("openssl x509 -noout -fingerprint -sha256 -in " +
                 server->cert_file().string());
  // OpenSSL 3.0 prints "sha256 Fingerprint=AB:CD:...".
  std::size_t equals = output.find('=');
  ASSERT_NE(equals, std::string::npos) << output;
  std::string expected = output.substr(equals + 1);
  while (!expected.empty() && std::isspace(expected.back()))
    expected.pop_back();
  EXPECT_EQ(server->fingerprint(), expected);

  Result<std::string> from_file = FileFingerprint(server->cert_file());
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(*from_file, expected);
}

TEST_F(TlsTest, SelfSignedCertificateHasServerExtensions) {
  const stdfs::path cert = dir_ / "c.pem";
  ASSERT_TRUE(
      GenerateSelfSigned(cert, dir_ / "k.pem", "mail.example.test").ok());
  std::string text =
      RunCommand("openssl x509 -noout -text -in " + cert.string());
  EXPECT_NE(text.find("CN = mail.example.test"), std::string::npos) << text;
  EXPECT_NE(text.find("DNS:mail.example.test"), std::string::npos);
  EXPECT_NE(text.find("CA:FALSE"), std::string::npos);
  EXPECT_NE(text.find("Digital Signature"), std::string::npos);
  EXPECT_NE(text.find("TLS Web Server Authentication"), std::string::npos);
  EXPECT_NE(text.find("prime256v1"), std::string::npos);
}

TEST_F(TlsTest, SelfSignedRejectsInvalidHostname) {
  Status status = GenerateSelfSigned(dir_ / "c.pem", dir_ / "k.pem",
                                     "a,DNS:evil.example.test");
  EXPECT_FALSE(status.ok());
  EXPECT_FALSE(stdfs::exists(dir_ / "k.pem"));
}

TEST_F(TlsTest, MissingCertFileFallsBackWithWarning) {
  LogCapture capture;
  TlsServerSettings settings;
  settings.cert_file = dir_ / "missing-cert.pem";
  settings.key_file = dir_ / "missing-key.pem";
  auto server = MustCreate(settings);
  ASSERT_TRUE(server);
  EXPECT_TRUE(server->self_signed_generated());
  std::vector<std::string> warnings = capture.Lines("missing-cert.pem");
  ASSERT_EQ(warnings.size(), 1u) << capture.Text();
  EXPECT_NE(warnings[0].find("self-signed"), std::string::npos);
}

TEST_F(TlsTest, MissingKeyFileFallsBack) {
  ASSERT_TRUE(
      GenerateSelfSigned(dir_ / "c.pem", dir_ / "k.pem", "a.example.test")
          .ok());
  LogCapture capture;
  TlsServerSettings settings;
  settings.cert_file = dir_ / "c.pem";
  settings.key_file = dir_ / "missing-key.pem";
  auto server = MustCreate(settings);
  ASSERT_TRUE(server);
  EXPECT_TRUE(server->self_signed_generated());
  EXPECT_EQ(capture.Lines("missing-key.pem").size(), 1u);
}

TEST_F(TlsTest, UsesConfiguredCertificate) {
  const stdfs::path cert = dir_ / "c.pem";
  const stdfs::path key = dir_ / "k.pem";
  ASSERT_TRUE(GenerateSelfSigned(cert, key, "ca.example.test").ok());
  TlsServerSettings settings;
  settings.cert_file = cert;
  settings.key_file = key;
  auto server = MustCreate(settings);
  ASSERT_TRUE(server);
  EXPECT_FALSE(server->self_signed_generated());
  EXPECT_EQ(server->cert_file(), cert);
  EXPECT_EQ(server->fingerprint(), *FileFingerprint(cert));
  EXPECT_FALSE(stdfs::exists(dir_ / "data/tls"));
  SslCtxPtr client = ClientContext();
  EXPECT_TRUE(Handshake(*server, client.get()).ok);
}

TEST_F(TlsTest, KeyInCertFileWhenKeyFileEmpty) {
  ASSERT_TRUE(
      GenerateSelfSigned(dir_ / "c.pem", dir_ / "k.pem", "a.example.test")
          .ok());
  const stdfs::path combined = dir_ / "combined.pem";
  std::ofstream(combined) << ReadText(dir_ / "c.pem")
                          << ReadText(dir_ / "k.pem");
  TlsServerSettings settings;
  settings.cert_file = combined;
  auto server = MustCreate(settings);
  ASSERT_TRUE(server);
  EXPECT_FALSE(server->self_signed_generated());
}

TEST_F(TlsTest, ChainFilesContainKeyAndCertificates) {
  ASSERT_TRUE(
      GenerateSelfSigned(dir_ / "c.pem", dir_ / "k.pem", "a.example.test")
          .ok());
  const stdfs::path chain_file = dir_ / "chain.pem";
  std::ofstream(chain_file)
      << ReadText(dir_ / "k.pem") << ReadText(dir_ / "c.pem");
  TlsServerSettings settings;
  settings.chain_files = {chain_file};
  auto server = MustCreate(settings);
  ASSERT_TRUE(server);
  EXPECT_FALSE(server->self_signed_generated());
  EXPECT_EQ(server->fingerprint(), *FileFingerprint(dir_ / "c.pem"));
  SslCtxPtr client = ClientContext();
  EXPECT_TRUE(Handshake(*server, client.get()).ok);
}

TEST_F(TlsTest, ChainFileWithWrongKeyIsError) {
  ASSERT_TRUE(
      GenerateSelfSigned(dir_ / "a-cert.pem", dir_ / "a-key.pem", "a.test")
          .ok());
  ASSERT_TRUE(
      GenerateSelfSigned(dir_ / "b-cert.pem", dir_ / "b-key.pem", "b.test")
          .ok());
  const stdfs::path chain_file = dir_ / "chain.pem";
  std::ofstream(chain_file)
      << ReadText(dir_ / "b-key.pem") << ReadText(dir_ / "a-cert.pem");
  TlsServerSettings settings;
  settings.chain_files = {chain_file};
  auto server = ServerContext::Create(settings, dir_, "mail.example.test");
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.error().message.find("does not match"), std::string::npos);
  EXPECT_NE(server.error().message.find("smtpd_tls_chain_files " +
                                        chain_file.string()),
            std::string::npos)
      << server.error().message;
}

TEST_F(TlsTest, MismatchedKeyNamesBothFiles) {
  ASSERT_TRUE(GenerateSelfSigned(dir_ / "a-cert.pem", dir_ / "a-key.pem",
                                 "a.example.test")
                  .ok());
  ASSERT_TRUE(GenerateSelfSigned(dir_ / "b-cert.pem", dir_ / "b-key.pem",
                                 "b.example.test")
                  .ok());
  TlsServerSettings settings;
  settings.cert_file = dir_ / "a-cert.pem";
  settings.key_file = dir_ / "b-key.pem";
  auto server = ServerContext::Create(settings, dir_, "mail.example.test");
  ASSERT_FALSE(server.ok());
  const std::string& message = server.error().message;
  EXPECT_NE(message.find("does not match"), std::string::npos) << message;
  EXPECT_NE(message.find((dir_ / "a-cert.pem").string()), std::string::npos);
  EXPECT_NE(message.find((dir_ / "b-key.pem").string()), std::string::npos);
}

TEST_F(TlsTest, InvalidCertFileIsError) {
  ASSERT_TRUE(
      GenerateSelfSigned(dir_ / "c.pem", dir_ / "k.pem", "a.example.test")
          .ok());
  std::ofstream(dir_ / "garbage.pem") << "not a certificate\n";
  TlsServerSettings settings;
  settings.cert_file = dir_ / "garbage.pem";
  settings.key_file = dir_ / "k.pem";
  auto server = ServerContext::Create(settings, dir_, "mail.example.test");
  ASSERT_FALSE(server.ok());
  const std::string& message = server.error().message;
  EXPECT_NE(message.find((dir_ / "garbage.pem").string()), std::string::npos);
  EXPECT_NE(message.find("invalid certificate file"), std::string::npos);
  EXPECT_NE(message.find("no start line"), std::string::npos) << message;
}

TEST_F(TlsTest, InvalidKeyFileIsError) {
  ASSERT_TRUE(
      GenerateSelfSigned(dir_ / "c.pem", dir_ / "k.pem", "a.example.test")
          .ok());
  std::ofstream(dir_ / "bad-key.pem") << "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                         "-----END PRIVATE KEY-----\n";
  TlsServerSettings settings;
  settings.cert_file = dir_ / "c.pem";
  settings.key_file = dir_ / "bad-key.pem";
  auto server = ServerContext::Create(settings, dir_, "mail.example.test");
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.error().message.find("bad-key.pem: invalid private key"),
            std::string::npos)
      << server.error().message;
}

TEST_F(TlsTest, UnreadableKeyFileIsError) {
  ASSERT_TRUE(
      GenerateSelfSigned(dir_ / "c.pem", dir_ / "k.pem", "a.example.test")
          .ok());
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  ASSERT_EQ(chmod((dir_ / "c.pem").c_str(), 0644), 0);
  ASSERT_EQ(chmod((dir_ / "k.pem").c_str(), 0), 0);
  TlsServerSettings settings;
  settings.cert_file = dir_ / "c.pem";
  settings.key_file = dir_ / "k.pem";

  // Root reads files whatever their mode, so the check runs as nobody in a
  // child process that returns the error message through a pipe.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
    auto server = ServerContext::Create(settings, "", "mail.example.test");
    std::string message = server.ok() ? "created" : server.error().message;
    _exit(write(fds[1], message.data(), message.size()) > 0 ? 0 : 3);
  }
  close(fds[1]);
  std::string message;
  char buffer[512];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) {
    message.append(buffer, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(message.find((dir_ / "k.pem").string()), std::string::npos)
      << message;
  EXPECT_NE(message.find("Permission denied"), std::string::npos) << message;
}

TEST_F(TlsTest, TicketResumesTls13) {
  auto server = MustCreate(TlsServerSettings{});
  ASSERT_TRUE(server);
  SslCtxPtr client = ClientContext();
  HandshakeResult first = Handshake(*server, client.get());
  ASSERT_TRUE(first.ok);
  EXPECT_FALSE(first.resumed);
  HandshakeResult second =
      Handshake(*server, client.get(), first.session.get());
  ASSERT_TRUE(second.ok);
  EXPECT_TRUE(second.resumed);
}

TEST_F(TlsTest, TicketResumesTls12) {
  auto server = MustCreate(TlsServerSettings{});
  ASSERT_TRUE(server);
  SslCtxPtr client = ClientContext(0, TLS1_2_VERSION);
  HandshakeResult first = Handshake(*server, client.get());
  ASSERT_TRUE(first.ok);
  ASSERT_TRUE(SSL_SESSION_has_ticket(first.session.get()));
  HandshakeResult second =
      Handshake(*server, client.get(), first.session.get());
  ASSERT_TRUE(second.ok);
  EXPECT_TRUE(second.resumed);
}

TEST_F(TlsTest, OldTicketKeyResumesUntilRetired) {
  TlsServerSettings settings;
  settings.session_cache_timeout = seconds(3600);
  auto server = MustCreate(settings);
  ASSERT_TRUE(server);
  SslCtxPtr client = ClientContext();
  HandshakeResult first = Handshake(*server, client.get());
  ASSERT_TRUE(first.ok);

  // One rotation: the first key is now the previous key and still decrypts;
  // the ticket is renewed under the new current key.
  clock_.Advance(seconds(3600));
  HandshakeResult after_one =
      Handshake(*server, client.get(), first.session.get());
  ASSERT_TRUE(after_one.ok);
  EXPECT_TRUE(after_one.resumed);
  EXPECT_EQ(server->ticket_keys()->key_count(), 2u);

  // Two rotations: the first key is retired, the renewed ticket still works.
  clock_.Advance(seconds(3600));
  HandshakeResult after_two =
      Handshake(*server, client.get(), first.session.get());
  ASSERT_TRUE(after_two.ok);
  EXPECT_FALSE(after_two.resumed);
  HandshakeResult renewed =
      Handshake(*server, client.get(), after_one.session.get());
  ASSERT_TRUE(renewed.ok);
  EXPECT_TRUE(renewed.resumed);
}

TEST_F(TlsTest, TicketKeysRotateOnlyWhenDue) {
  FakeClock clock;
  TicketKeys keys(seconds(100), 2, clock.AsClock());
  unsigned char name[16];
  unsigned char iv[EVP_MAX_IV_LENGTH];
  EVP_CIPHER_CTX* cipher = EVP_CIPHER_CTX_new();
  EVP_MAC* mac_algorithm = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* mac = EVP_MAC_CTX_new(mac_algorithm);
  ASSERT_EQ(keys.HandleTicket(name, iv, cipher, mac, true), 1);
  unsigned char first_name[16];
  std::memcpy(first_name, name, 16);

  clock.Advance(seconds(99));
  ASSERT_EQ(keys.HandleTicket(name, iv, cipher, mac, true), 1);
  EXPECT_EQ(std::memcmp(name, first_name, 16), 0);
  EXPECT_EQ(keys.key_count(), 1u);

  clock.Advance(seconds(1));
  ASSERT_EQ(keys.HandleTicket(name, iv, cipher, mac, true), 1);
  EXPECT_NE(std::memcmp(name, first_name, 16), 0);
  std::memcpy(name, first_name, 16);
  EXPECT_EQ(keys.HandleTicket(name, iv, cipher, mac, false), 2);

  clock.Advance(seconds(200));
  EXPECT_EQ(keys.HandleTicket(name, iv, cipher, mac, false), 2);
  EXPECT_EQ(keys.key_count(), 3u);
  clock.Advance(seconds(100));
  EXPECT_EQ(keys.HandleTicket(name, iv, cipher, mac, false), 0);
  EXPECT_EQ(keys.key_count(), 3u);

  EVP_MAC_CTX_free(mac);
  EVP_MAC_free(mac_algorithm);
  EVP_CIPHER_CTX_free(cipher);
}

TEST_F(TlsTest, TicketsOffWithoutCacheDoesNotResume) {
  TlsServerSettings settings;
  settings.session_tickets = false;
  auto server = MustCreate(settings);
  ASSERT_TRUE(server);
  EXPECT_EQ(server->ticket_keys(), nullptr);
  EXPECT_NE(
      SSL_CTX_get_options(server->native().native_handle()) & SSL_OP_NO_TICKET,
      0u);
  SslCtxPtr client = ClientContext(0, TLS1_2_VERSION);
  HandshakeResult first = Handshake(*server, client.get());
  ASSERT_TRUE(first.ok);
  EXPECT_FALSE(SSL_SESSION_has_ticket(first.session.get()));
  HandshakeResult second =
      Handshake(*server, client.get(), first.session.get());
  ASSERT_TRUE(second.ok);
  EXPECT_FALSE(second.resumed);
}

TlsServerSettings CacheOnlySettings(const stdfs::path& dir) {
  TlsServerSettings settings;
  settings.session_tickets = false;
  settings.session_cache_path = dir / "cache/smtpd_scache";
  settings.session_cache_timeout = seconds(600);
  return settings;
}

TEST_F(TlsTest, CacheResumesTls12WithoutTickets) {
  auto server = MustCreate(CacheOnlySettings(dir_));
  ASSERT_TRUE(server);
  ASSERT_NE(server->session_cache(), nullptr);
  SslCtxPtr client = ClientContext(0, TLS1_2_VERSION);
  HandshakeResult first = Handshake(*server, client.get());
  ASSERT_TRUE(first.ok);
  EXPECT_FALSE(SSL_SESSION_has_ticket(first.session.get()));
  EXPECT_EQ(server->session_cache()->size(), 1u);
  HandshakeResult second =
      Handshake(*server, client.get(), first.session.get());
  ASSERT_TRUE(second.ok);
  EXPECT_TRUE(second.resumed);
  EXPECT_TRUE(stdfs::exists(dir_ / "cache/smtpd_scache"));
}

TEST_F(TlsTest, CacheResumesTls13WithoutTickets) {
  auto server = MustCreate(CacheOnlySettings(dir_));
  ASSERT_TRUE(server);
  SslCtxPtr client = ClientContext();
  HandshakeResult first = Handshake(*server, client.get());
  ASSERT_TRUE(first.ok);
  EXPECT_EQ(first.version, "TLSv1.3");
  EXPECT_GE(server->session_cache()->size(), 1u);
  HandshakeResult second =
      Handshake(*server, client.get(), first.session.get());
  ASSERT_TRUE(second.ok);
  EXPECT_TRUE(second.resumed);
}

TEST_F(TlsTest, CacheResumesAfterRestart) {
  SslCtxPtr client = ClientContext(0, TLS1_2_VERSION);
  SslSessionPtr session;
  {
    auto server = MustCreate(CacheOnlySettings(dir_));
    ASSERT_TRUE(server);
    HandshakeResult first = Handshake(*server, client.get());
    ASSERT_TRUE(first.ok);
    session = std::move(first.session);
  }
  auto restarted = MustCreate(CacheOnlySettings(dir_));
  ASSERT_TRUE(restarted);
  EXPECT_EQ(restarted->session_cache()->size(), 1u);
  HandshakeResult second = Handshake(*restarted, client.get(), session.get());
  ASSERT_TRUE(second.ok);
  EXPECT_TRUE(second.resumed);
}

TEST_F(TlsTest, CacheResumesAcrossProcesses) {
  const stdfs::path session_file = dir_ / "client-session.der";
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child is the first server process; it hands the client's session
    // to the parent through a file and exits without running gtest code.
    auto server =
        ServerContext::CreateForTesting(CacheOnlySettings(dir_), dir_ / "data",
                                        "mail.example.test", clock_.AsClock());
    if (!server.ok()) _exit(2);
    SslCtxPtr client = ClientContext(0, TLS1_2_VERSION);
    HandshakeResult first = Handshake(**server, client.get());
    if (!first.ok) _exit(3);
    int length = i2d_SSL_SESSION(first.session.get(), nullptr);
    std::string der(static_cast<std::size_t>(length), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    i2d_SSL_SESSION(first.session.get(), &out);
    _exit(fs::WriteFileDurably(session_file, der).ok() ? 0 : 4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  std::string der = ReadText(session_file);
  const auto* in = reinterpret_cast<const unsigned char*>(der.data());
  SslSessionPtr session(
      d2i_SSL_SESSION(nullptr, &in, static_cast<long>(der.size())));
  ASSERT_TRUE(session);
  auto server = MustCreate(CacheOnlySettings(dir_));
  ASSERT_TRUE(server);
  SslCtxPtr client = ClientContext(0, TLS1_2_VERSION);
  HandshakeResult second = Handshake(*server, client.get(), session.get());
  ASSERT_TRUE(second.ok);
  EXPECT_TRUE(second.resumed);
}

TEST_F(TlsTest, ExpiredCacheEntryIsNotResumed) {
  auto server = MustCreate(CacheOnlySettings(dir_));
  ASSERT_TRUE(server);
  SslCtxPtr client = ClientContext(0, TLS1_2_VERSION);
  HandshakeResult first = Handshake(*server, client.get());
  ASSERT_TRUE(first.ok);
  unsigned int id_length = 0;
  const unsigned char* id = SSL_SESSION_get_id(first.session.get(), &id_length);
  std::string session_id(reinterpret_cast<const char*>(id), id_length);
  std::optional<system_clock::time_point> expiry =
      server->session_cache()->ExpiryOf(session_id);
  ASSERT_TRUE(expiry.has_value());
  EXPECT_EQ(*expiry, clock_.Now() + seconds(600));

  clock_.Advance(seconds(600));
  HandshakeResult second =
      Handshake(*server, client.get(), first.session.get());
  ASSERT_TRUE(second.ok);
  EXPECT_FALSE(second.resumed);
  EXPECT_FALSE(server->session_cache()->ExpiryOf(session_id).has_value());
}

TEST_F(TlsTest, SessionCacheStoresAndPurges) {
  FakeClock clock;
  auto cache = SessionCache::Open(dir_ / "scache", clock.AsClock());
  ASSERT_TRUE(cache.ok()) << cache.error().message;
  ASSERT_TRUE((*cache)->Store("id-1", "der-1", clock.Now() + seconds(10)).ok());
  ASSERT_TRUE((*cache)->Store("id-2", "der-2", clock.Now() + seconds(20)).ok());
  EXPECT_EQ((*cache)->Lookup("id-1"), "der-1");
  EXPECT_EQ((*cache)->Lookup("missing"), std::nullopt);

  // A second Open of the same path shares the environment.
  auto again = SessionCache::Open(dir_ / "scache", clock.AsClock());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Lookup("id-2"), "der-2");

  clock.Advance(seconds(10));
  EXPECT_EQ((*cache)->Lookup("id-1"), std::nullopt);
  EXPECT_EQ((*cache)->size(), 1u);
  clock.Advance(seconds(10));
  EXPECT_EQ((*cache)->PurgeExpired(), 1u);
  EXPECT_EQ((*cache)->size(), 0u);
}

TEST_F(TlsTest, SessionCacheOpenErrorNamesPath) {
  std::ofstream(dir_ / "file") << "x";
  auto cache = SessionCache::Open(dir_ / "file/scache");
  ASSERT_FALSE(cache.ok());
  EXPECT_NE(cache.error().message.find((dir_ / "file").string()),
            std::string::npos);
}

TEST_F(TlsTest, LogLevelOneLogsOneLinePerHandshake) {
  TlsServerSettings settings;
  settings.loglevel = 1;
  auto server = MustCreate(settings);
  ASSERT_TRUE(server);
  SslCtxPtr client = ClientContext();
  LogCapture capture;
  SslSessionPtr session;
  for (int i = 0; i < 3; ++i) {
    HandshakeResult result = Handshake(*server, client.get(), session.get());
    ASSERT_TRUE(result.ok);
    server->LogHandshake(result.server.get(), "localhost[127.0.0.1]:41234");
    session = std::move(result.session);
  }
  std::vector<std::string> lines = capture.Lines("");
  ASSERT_EQ(lines.size(), 3u) << capture.Text();
  for (const std::string& line : lines) {
    EXPECT_EQ(line,
              "Anonymous TLS connection established from "
              "localhost[127.0.0.1]:41234: TLSv1.3 with cipher "
              "TLS_AES_256_GCM_SHA384 (256/256 bits)");
  }
}

TEST_F(TlsTest, LogLevelZeroLogsNothing) {
  auto server = MustCreate(TlsServerSettings{});
  ASSERT_TRUE(server);
  SslCtxPtr client = ClientContext();
  LogCapture capture;
  HandshakeResult result = Handshake(*server, client.get());
  ASSERT_TRUE(result.ok);
  server->LogHandshake(result.server.get(), "localhost[127.0.0.1]:41234");
  EXPECT_TRUE(capture.Lines("").empty()) << capture.Text();
}

TEST_F(TlsTest, LogLevelsTwoAndThreeAddDetails) {
  TlsServerSettings settings;
  settings.loglevel = 3;
  auto server = MustCreate(settings);
  ASSERT_TRUE(server);
  SslCtxPtr client = ClientContext();
  LogCapture capture;
  HandshakeResult first = Handshake(*server, client.get());
  ASSERT_TRUE(first.ok);
  server->LogHandshake(first.server.get(), "c[127.0.0.1]:1");
  HandshakeResult second =
      Handshake(*server, client.get(), first.session.get());
  ASSERT_TRUE(second.ok);
  server->LogHandshake(second.server.get(), "c[127.0.0.1]:2");
  std::vector<std::string> lines = capture.Lines("TLS connection established");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("session=new"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("session=resumed"), std::string::npos) << lines[1];
  EXPECT_NE(lines[0].find("client_certificate=none"), std::string::npos);
  EXPECT_NE(lines[0].find("sni=mail.example.test"), std::string::npos);
  EXPECT_NE(lines[0].find("group=X25519"), std::string::npos) << lines[0];
}

TEST_F(TlsTest, DescribesStreamErrors) {
  EXPECT_NE(
      DescribeError(asio::ssl::error::stream_truncated).find("close_notify"),
      std::string::npos);
  EXPECT_NE(DescribeError(asio::error::eof).find("closed"), std::string::npos);
}

TEST_F(TlsTest, ConcurrentHandshakesResume) {
  TlsServerSettings settings;
  settings.session_cache_path = dir_ / "scache";
  auto server = MustCreate(settings);
  ASSERT_TRUE(server);
  std::atomic<int> resumed{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // Odd threads use TLS 1.2 (session ids in LMDB and tickets), even ones
      // TLS 1.3 (tickets only).
      SslCtxPtr client = ClientContext(0, t % 2 ? TLS1_2_VERSION : 0);
      SslSessionPtr session;
      for (int i = 0; i < 20; ++i) {
        HandshakeResult result =
            Handshake(*server, client.get(), session.get());
        if (!result.ok) {
          ++failed;
          continue;
        }
        if (result.resumed) ++resumed;
        session = std::move(result.session);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(resumed.load(), 4 * 19);
}

TEST_F(TlsTest, AsioStreamHandshakeOverLoopback) {
  auto server = MustCreate(TlsServerSettings{});
  ASSERT_TRUE(server);
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(
      io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::error_code server_error;
  std::string server_version;
  std::thread server_thread([&] {
    asio::ssl::stream<asio::ip::tcp::socket> stream(io, server->native());
    acceptor.accept(stream.lowest_layer(), server_error);
    if (server_error) return;
    stream.handshake(asio::ssl::stream_base::server, server_error);
    if (server_error) return;
    server_version = SSL_get_version(stream.native_handle());
    asio::write(stream, asio::buffer("ok", 2), server_error);
  });

  asio::ssl::context client_context(asio::ssl::context::tls_client);
  client_context.set_verify_mode(asio::ssl::verify_none);
  asio::io_context client_io;
  asio::ssl::stream<asio::ip::tcp::socket> client(client_io, client_context);
  std::error_code error;
  client.lowest_layer().connect(acceptor.local_endpoint(), error);
  ASSERT_FALSE(error) << error.message();
  client.handshake(asio::ssl::stream_base::client, error);
  EXPECT_FALSE(error) << DescribeError(error);
  char reply[2];
  asio::read(client, asio::buffer(reply), error);
  server_thread.join();
  EXPECT_FALSE(server_error) << DescribeError(server_error);
  EXPECT_EQ(server_version, "TLSv1.3");
  EXPECT_EQ(std::string(reply, 2), "ok");
}

}  // namespace
}  // namespace mailport::tls
