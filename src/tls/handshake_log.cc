// The handshake log line and readable handshake errors.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <asio/ssl/error.hpp>
#include <string>

#include "tls/server_context.h"
#include "util/log.h"

namespace mailport::tls {
namespace {

std::string HexBytes(const unsigned char* data, std::size_t length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (std::size_t i = 0; i < length; ++i) {
    text += kHex[data[i] >> 4];
    text += kHex[data[i] & 0xf];
  }
  return text;
}

std::string SubjectOf(X509* certificate) {
  X509_NAME* name = X509_get_subject_name(certificate);
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  std::string subject =
      length > 0 ? std::string(data, static_cast<std::size_t>(length)) : "";
  BIO_free(bio);
  return log::Sanitize(subject);
}

// Level 2: resumption and client certificate; 3 and up: SNI, key exchange
// group and peer signature; 4: session id and ticket use.
std::string Details(SSL* ssl, int loglevel) {
  std::string text =
      SSL_session_reused(ssl) ? "session=resumed" : "session=new";
  X509* peer = SSL_get0_peer_certificate(ssl);
  text += peer != nullptr ? " client_certificate=\"" + SubjectOf(peer) + "\""
                          : " client_certificate=none";
  if (loglevel >= 3) {
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    text += " sni=" +
            (sni != nullptr ? log::Sanitize(sni, 255) : std::string("none"));
    int group = SSL_get_negotiated_group(ssl);
    const char* group_name = group > 0 && (group & TLSEXT_nid_unknown) == 0
                                 ? OBJ_nid2sn(group)
                                 : nullptr;
    text += " group=" + std::string(group_name ? group_name : "unknown");
    int signature_nid = NID_undef;
    if (SSL_get_signature_nid(ssl, &signature_nid) == 1 &&
        signature_nid != NID_undef) {
      text += " server_digest=" + std::string(OBJ_nid2sn(signature_nid));
    }
  }
  if (loglevel >= 4) {
    unsigned int id_length = 0;
    const unsigned char* id =
        SSL_SESSION_get_id(SSL_get_session(ssl), &id_length);
    text += " session_id=" +
            (id_length > 0 ? HexBytes(id, id_length) : std::string("none"));
    text += " tickets=";
    text += (SSL_get_options(ssl) & SSL_OP_NO_TICKET) ? "off" : "on";
  }
  return text;
}

// Hints for the reasons that operators meet most, by OpenSSL reason code.
const char* HintFor(int reason) {
  switch (reason) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_VERSION_TOO_HIGH:
      return "the client offered no TLS version that smtpd_tls_protocols "
             "allows";
    case SSL_R_NO_SHARED_CIPHER:
      return "the client offered no cipher that smtpd_tls_ciphers allows";
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
      return "the client did not send TLS, perhaps plain SMTP on a port "
             "that expects TLS from the first byte";
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
      return "the client rejected the server certificate; with a "
             "self-signed certificate the user must accept it in the client";
    default:
      return nullptr;
  }
}

}  // namespace

std::string DescribeError(const std::error_code& error) {
  if (error == asio::ssl::error::stream_truncated) {
    return "connection closed without a TLS close_notify alert";
  }
  if (error == asio::error::eof) {
    return "connection closed by the peer during the TLS handshake";
  }
  if (error.category() != asio::error::get_ssl_category()) {
    return error.message();
  }
  auto code = static_cast<unsigned long>(error.value());
  const char* reason = ERR_reason_error_string(code);
  std::string text = reason != nullptr ? reason : error.message();
  if (const char* hint = HintFor(ERR_GET_REASON(code))) {
    text += " (";
    text += hint;
    text += ")";
  }
  return text;
}

void ServerContext::LogHandshake(SSL* ssl, const std::string& session) const {
  if (loglevel_ <= 0 || ssl == nullptr) return;

  int algorithm_bits = 0;
  int bits = SSL_get_cipher_bits(ssl, &algorithm_bits);
  // Postfix's words: "Anonymous" without a client certificate, "Untrusted"
  // with one that was not verified (this server does not verify them).
  const char* trust =
      SSL_get0_peer_certificate(ssl) != nullptr ? "Untrusted" : "Anonymous";
  if (loglevel_ == 1) {
    log::Info(
        "{} TLS connection established from {}: {} with cipher {} "
        "({}/{} bits)",
        trust, session, SSL_get_version(ssl), SSL_get_cipher_name(ssl), bits,
        algorithm_bits);
    return;
  }
  log::Info(
      "{} TLS connection established from {}: {} with cipher {} "
      "({}/{} bits) {}",
      trust, session, SSL_get_version(ssl), SSL_get_cipher_name(ssl), bits,
      algorithm_bits, Details(ssl, loglevel_));
}

}  // namespace mailport::tls
