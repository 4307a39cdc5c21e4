// The built-in configuration of mailportd without -c.

#include <string>

#include "config/config.h"

namespace mailport::config {
namespace {

// '$' starts an expansion in main.cf, so a literal one is written "$$".
std::string EscapeValue(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '$') out += '$';
    out += c;
  }
  return out;
}

}  // namespace

std::string EmbeddedMainCf(const std::filesystem::path& data_directory) {
  std::string main_cf;
  main_cf += "# Built-in main.cf of mailportd without -c.\n";
  main_cf += "data_directory = " + EscapeValue(data_directory.string()) + "\n";
  main_cf += R"(queue_directory = ${data_directory}/queue
mailbox_base = ${data_directory}/mailboxes
mydestination = $myhostname, localhost.$mydomain, localhost
mynetworks = 127.0.0.0/8 [::1]/128

# STARTTLS offered on port 25; AUTH only after TLS everywhere.  Without
# certificate files the TLS layer generates a self-signed certificate in
# data_directory.
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_tls_loglevel = 1
smtpd_tls_session_cache_database = lmdb:${data_directory}/smtpd_scache
smtpd_sasl_type = passwd-file
smtpd_sasl_path = ${data_directory}/passwd
)";
  return main_cf;
}

std::string EmbeddedMasterCf() {
  return R"(# Built-in master.cf of mailportd without -c: loopback listeners only.
# service              type  private unpriv chroot wakeup maxproc command
127.0.0.1:smtp         inet  n       -      n      -      -       smtpd
127.0.0.1:submission   inet  n       -      n      -      -       smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
127.0.0.1:submissions  inet  n       -      n      -      -       smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
)";
}

}  // namespace mailport::config
