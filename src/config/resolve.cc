// Resolve(): validation of every parameter and service, and construction of
// the typed Settings.

#include <algorithm>
#include <chrono>
#include <climits>
#include <filesystem>
#include <set>
#include <string>
#include <utility>

#include "config/config.h"
#include "config/listen.h"
#include "config/parameters.h"
#include "config/values.h"
#include "fmt/format.h"

namespace mailport::config {
namespace {

using Severity = Diagnostic::Severity;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool IsYesNoDash(std::string_view text) {
  return text == "y" || text == "n" || text == "-";
}

class Resolver {
 public:
  explicit Resolver(Config& config) : config_(config) {}

  Settings Run() {
    CollectReferences();
    WarnUnknownMain();
    Validate(config_.main, /*service_scope_only=*/false);

    Settings settings;
    settings.global = BuildGlobal();
    protocols_ = ParseInetProtocols(config_.main.Get("inet_protocols"));
    for (const Service& service : config_.services) {
      AddService(service, settings.services);
    }
    // mailportd has nothing to run without a listener; a missing or
    // unreadable master.cf is reported by Load() already.
    if (settings.services.empty() && !config_.HasErrors()) {
      Report(Severity::kError, "", 0,
             "master.cf defines no smtpd service of type inet; add a line "
             "such as \"smtp inet n - n - - smtpd\"");
    }
    return settings;
  }

 private:
  // Adds a diagnostic unless the same text was already added, because a
  // main.cf value is checked again for every service that inherits it.
  void Report(Severity severity, const std::string& file, int line,
              std::string message) {
    Diagnostic diagnostic{severity, file, line, std::move(message)};
    if (!reported_.insert(diagnostic.ToString()).second) return;
    config_.diagnostics.push_back(std::move(diagnostic));
  }

  void ReportAt(Severity severity, const Setting* where, std::string message) {
    if (where == nullptr) {
      Report(severity, "", 0, std::move(message));
    } else {
      Report(severity, where->file, where->line, std::move(message));
    }
  }

  void ReportAt(Severity severity, const Service& service,
                std::string message) {
    Report(severity, service.file, service.line, std::move(message));
  }

  // Names that some value refers to; such user-defined parameters, common
  // in Debian's master.cf (`-o smtpd_client_restrictions=$mua_client_...`),
  // are used and draw no "unknown parameter" warning.
  void CollectReferences() {
    for (const auto& [name, setting] : config_.main.settings()) {
      for (std::string& referenced : ReferencedNames(setting.value)) {
        referenced_.insert(std::move(referenced));
      }
    }
    for (const Service& service : config_.services) {
      for (const Setting& setting : service.overrides) {
        for (std::string& referenced : ReferencedNames(setting.value)) {
          referenced_.insert(std::move(referenced));
        }
      }
    }
  }

  bool IsKnownOrReferenced(const std::string& name) const {
    return FindParameter(name) != nullptr || referenced_.count(name) > 0;
  }

  void WarnUnknownMain() {
    std::vector<const Setting*> unknown;
    for (const auto& [name, setting] : config_.main.settings()) {
      if (!IsKnownOrReferenced(name)) unknown.push_back(&setting);
    }
    std::sort(
        unknown.begin(), unknown.end(),
        [](const Setting* a, const Setting* b) { return a->line < b->line; });
    for (const Setting* setting : unknown) {
      ReportAt(Severity::kWarning, setting,
               fmt::format("unknown parameter \"{}\" is ignored{}",
                           setting->name, DidYouMean(setting->name)));
    }
  }

  static std::string DidYouMean(std::string_view name) {
    std::string suggestion = SuggestParameter(name);
    if (suggestion.empty()) return "";
    return fmt::format("; did you mean \"{}\"?", suggestion);
  }

  static std::string SettingKey(const Setting& setting) {
    return fmt::format("{}:{}:{}", setting.file, setting.line, setting.name);
  }

  // Checks every table parameter by its type.  With `service_scope_only`,
  // global parameters are skipped because only their main.cf value counts.
  void Validate(const Parameters& parameters, bool service_scope_only) {
    for (const ParameterInfo& info : AllParameters()) {
      if (service_scope_only && info.scope == ParameterScope::kGlobal) {
        continue;
      }
      const Setting* where = parameters.Locate(info.name);
      // A default that inherits an invalid value from the setting it
      // refers to (mailbox_base from data_directory) adds no second error.
      if (where != nullptr && where->name != info.name &&
          invalid_settings_.count(SettingKey(*where)) > 0) {
        continue;
      }
      Result<std::string> value = parameters.Expand(info.name);
      if (!value.ok()) {
        if (where != nullptr && where->name == info.name) {
          invalid_settings_.insert(SettingKey(*where));
        }
        ReportAt(Severity::kError, where,
                 fmt::format("invalid {} value \"{}\": {}", info.name,
                             parameters.Raw(info.name), value.error().message));
        continue;
      }
      Status status = CheckValue(info, *value);
      if (!status.ok()) {
        if (where != nullptr && where->name == info.name) {
          invalid_settings_.insert(SettingKey(*where));
        }
        ReportAt(Severity::kError, where,
                 fmt::format("invalid {} value \"{}\": {}", info.name, *value,
                             status.error().message));
      }
    }
  }

  // Typed accessors for values that Validate() has checked.  An invalid
  // value has been reported already and falls back to the built-in
  // default, so the returned Settings stay usable for `mailport check`.
  static const ParameterInfo& Info(std::string_view name) {
    return *FindParameter(name);
  }

  static bool GetBool(const Parameters& p, std::string_view name) {
    Result<bool> value = ParseBool(p.Get(name));
    if (value.ok()) return *value;
    return ParseBool(Info(name).default_value).value();
  }

  static int64_t GetInteger(const Parameters& p, std::string_view name) {
    const ParameterInfo& info = Info(name);
    Result<int64_t> value = ParseInteger(p.Get(name), info.min, info.max);
    if (value.ok()) return *value;
    return ParseInteger(info.default_value, info.min, info.max).value();
  }

  static uint64_t GetSize(const Parameters& p, std::string_view name) {
    Result<uint64_t> value = ParseSize(p.Get(name));
    if (value.ok()) return *value;
    return ParseSize(Info(name).default_value).value();
  }

  static std::chrono::seconds GetTime(const Parameters& p,
                                      std::string_view name) {
    const ParameterInfo& info = Info(name);
    Result<int64_t> value =
        ParseTime(p.Get(name), info.time_unit, info.min, info.max);
    if (!value.ok()) {
      value = ParseTime(info.default_value, info.time_unit, info.min, info.max);
    }
    return std::chrono::seconds(*value);
  }

  static std::string GetChecked(const Parameters& p, std::string_view name) {
    std::string value = p.Get(name);
    if (CheckValue(Info(name), value).ok()) return value;
    return std::string(Info(name).default_value);
  }

  static std::vector<std::string> GetDomains(const Parameters& p,
                                             std::string_view name) {
    std::vector<std::string> domains;
    for (std::string& item : SplitList(GetChecked(p, name))) {
      item = Lower(item);
      if (!item.empty() && item.back() == '.') item.pop_back();
      domains.push_back(std::move(item));
    }
    return domains;
  }

  static std::vector<IpNetwork> GetNetworks(const Parameters& p) {
    Result<std::vector<IpNetwork>> value = ParseNetworks(p.Get("mynetworks"));
    if (value.ok()) return *value;
    return ParseNetworks(Info("mynetworks").default_value).value();
  }

  static std::vector<Restriction> GetRestrictions(const Parameters& p,
                                                  std::string_view name) {
    Result<std::vector<Restriction>> value = ParseRestrictions(p.Get(name));
    if (value.ok()) return *value;
    return ParseRestrictions(Info(name).default_value).value();
  }

  static TlsVersionRange GetProtocols(const Parameters& p,
                                      std::string_view name) {
    Result<TlsVersionRange> value = ParseTlsProtocols(p.Get(name));
    if (value.ok()) return *value;
    return ParseTlsProtocols(Info(name).default_value).value();
  }

  GlobalSettings BuildGlobal() {
    const Parameters& p = config_.main;
    GlobalSettings global;
    global.config_directory = GetChecked(p, "config_directory");
    global.myhostname = Lower(GetChecked(p, "myhostname"));
    global.mydomain = Lower(GetChecked(p, "mydomain"));
    Result<std::string> origin = ReadDomainOrFile(GetChecked(p, "myorigin"));
    global.myorigin = Lower(origin.ok() ? *origin : global.myhostname);
    global.mydestination = GetDomains(p, "mydestination");
    global.mynetworks = GetNetworks(p);
    global.data_directory = GetChecked(p, "data_directory");
    global.queue_directory = GetChecked(p, "queue_directory");
    global.home_mailbox = GetChecked(p, "home_mailbox");
    global.mailbox_base = GetChecked(p, "mailbox_base");
    global.mail_owner = GetChecked(p, "mail_owner");
    global.maillog_file = GetChecked(p, "maillog_file");
    global.queue_run_delay = GetTime(p, "queue_run_delay");
    global.maximal_queue_lifetime = GetTime(p, "maximal_queue_lifetime");
    global.minimal_backoff_time = GetTime(p, "minimal_backoff_time");
    global.maximal_backoff_time = GetTime(p, "maximal_backoff_time");
    if (global.minimal_backoff_time > global.maximal_backoff_time) {
      ReportAt(Severity::kError, p.Locate("minimal_backoff_time"),
               fmt::format("minimal_backoff_time ({}s) is greater than "
                           "maximal_backoff_time ({}s)",
                           global.minimal_backoff_time.count(),
                           global.maximal_backoff_time.count()));
    }
    return global;
  }

  // Returns false for lines that define no smtpd listener, after saying
  // why.
  bool CheckColumns(const Service& service) {
    static const std::set<std::string, std::less<>> kOtherTypes = {
        "unix", "unix-dgram", "fifo", "pass"};
    if (service.type != "inet") {
      if (kOtherTypes.count(service.type) > 0) {
        ReportAt(Severity::kWarning, service,
                 fmt::format("service \"{}\" type {} is part of Postfix's "
                             "internal architecture, which mailportd has "
                             "built in; line ignored",
                             service.name, service.type));
      } else {
        ReportAt(Severity::kError, service,
                 fmt::format("invalid type \"{}\" of service \"{}\": expected "
                             "inet, unix, unix-dgram, fifo or pass",
                             service.type, service.name));
      }
      return false;
    }
    if (service.command != "smtpd") {
      ReportAt(Severity::kWarning, service,
               fmt::format("service \"{}\": command \"{}\" is not supported "
                           "on inet services, only smtpd; line ignored",
                           service.name, service.command));
      return false;
    }

    bool ok = true;
    struct Column {
      std::string_view label;
      const std::string& value;
    };
    for (const Column& column : {Column{"private", service.private_column},
                                 Column{"unpriv", service.unpriv_column},
                                 Column{"chroot", service.chroot_column}}) {
      if (!IsYesNoDash(column.value)) {
        ReportAt(Severity::kError, service,
                 fmt::format("invalid {} column \"{}\" of service \"{}\": "
                             "expected y, n or -",
                             column.label, column.value, service.name));
        ok = false;
      }
    }
    if (service.private_column == "y") {
      ReportAt(Severity::kWarning, service,
               fmt::format("service \"{}\": inet services cannot be private; "
                           "the private column y is ignored, write n",
                           service.name));
    }

    std::string_view wakeup = service.wakeup_column;
    if (!wakeup.empty() && wakeup.back() == '?') wakeup.remove_suffix(1);
    if (service.wakeup_column != "-" && !IsDigits(wakeup)) {
      ReportAt(Severity::kError, service,
               fmt::format("invalid wakeup column \"{}\" of service \"{}\": "
                           "expected seconds, optionally followed by ?, or -",
                           service.wakeup_column, service.name));
      ok = false;
    } else if (service.wakeup_column != "-" && wakeup != "0") {
      ReportAt(Severity::kWarning, service,
               fmt::format("service \"{}\": wakeup time {} is ignored because "
                           "smtpd needs no wake-up requests",
                           service.name, service.wakeup_column));
    }

    if (service.maxproc_column != "-" &&
        !ParseInteger(service.maxproc_column, 0, INT_MAX).ok()) {
      ReportAt(Severity::kError, service,
               fmt::format("invalid maxproc column \"{}\" of service \"{}\": "
                           "expected a number of concurrent sessions (0 = no "
                           "limit) or -",
                           service.maxproc_column, service.name));
      ok = false;
    }

    for (const std::string& argument : service.arguments) {
      ReportAt(Severity::kWarning, service,
               fmt::format("service \"{}\": smtpd argument \"{}\" is ignored; "
                           "only -o name=value is supported",
                           service.name, argument));
    }
    return ok;
  }

  void CheckOverrides(const Service& service) {
    for (const Setting& setting : service.overrides) {
      const ParameterInfo* info = FindParameter(setting.name);
      if (info == nullptr) {
        if (referenced_.count(setting.name) > 0) continue;
        ReportAt(
            Severity::kWarning, &setting,
            fmt::format("unknown parameter \"{}\" in -o override of "
                        "service \"{}\" is ignored{}",
                        setting.name, service.name, DidYouMean(setting.name)));
      } else if (info->scope == ParameterScope::kGlobal) {
        ReportAt(Severity::kWarning, &setting,
                 fmt::format("-o {0} on service \"{1}\" changes only ${0} "
                             "expansions in this service; {0} itself applies "
                             "to the whole server, so set it in main.cf",
                             setting.name, service.name));
      }
    }
  }

  bool IsSubmission(const Parameters& p, const ServiceEndpoint& endpoint,
                    const std::string& syslog_name) {
    std::string mode = Lower(GetChecked(p, "smtpd_submission"));
    if (mode == "yes") return true;
    if (mode == "no") return false;
    if (endpoint.port == 587 || endpoint.port == 465) return true;
    std::string service = Lower(endpoint.service_part);
    if (service == "submission" || service == "submissions" ||
        service == "smtps") {
      return true;
    }
    for (std::string_view suffix : {"/submission", "/submissions", "/smtps"}) {
      if (syslog_name.ends_with(suffix)) return true;
    }
    return false;
  }

  TlsServerSettings BuildTls(const Parameters& p) {
    TlsServerSettings tls;
    std::string level = Lower(GetChecked(p, "smtpd_tls_security_level"));
    if (level.empty()) {
      // Postfix derives the level from the legacy booleans when the
      // parameter is empty, which is its default.
      if (GetBool(p, "smtpd_enforce_tls")) {
        level = "encrypt";
      } else if (GetBool(p, "smtpd_use_tls")) {
        level = "may";
      } else {
        level = "none";
      }
    }
    tls.security_level = level == "encrypt" ? TlsSecurityLevel::kEncrypt
                         : level == "may"   ? TlsSecurityLevel::kMay
                                            : TlsSecurityLevel::kNone;
    tls.wrapper_mode = GetBool(p, "smtpd_tls_wrappermode");
    tls.auth_only = GetBool(p, "smtpd_tls_auth_only");
    tls.cert_file = GetChecked(p, "smtpd_tls_cert_file");
    tls.key_file = GetChecked(p, "smtpd_tls_key_file");
    for (std::string& file :
         SplitList(GetChecked(p, "smtpd_tls_chain_files"))) {
      tls.chain_files.emplace_back(std::move(file));
    }
    tls.loglevel = static_cast<int>(GetInteger(p, "smtpd_tls_loglevel"));
    Result<std::filesystem::path> cache =
        ParseSessionCache(p.Get("smtpd_tls_session_cache_database"));
    if (cache.ok()) tls.session_cache_path = *cache;
    tls.session_cache_timeout = GetTime(p, "smtpd_tls_session_cache_timeout");
    Result<bool> no_ticket = ParseTlsSslOptions(p.Get("tls_ssl_options"));
    tls.session_tickets = !(no_ticket.ok() && *no_ticket);

    // Encrypt level and wrapper mode are mandatory TLS, so the mandatory
    // protocols and ciphers apply, as in Postfix.
    bool mandatory =
        tls.security_level == TlsSecurityLevel::kEncrypt || tls.wrapper_mode;
    TlsVersionRange range = GetProtocols(
        p, mandatory ? "smtpd_tls_mandatory_protocols" : "smtpd_tls_protocols");
    tls.min_version = range.min;
    tls.max_version = range.max;

    std::string grade = Lower(GetChecked(
        p, mandatory ? "smtpd_tls_mandatory_ciphers" : "smtpd_tls_ciphers"));
    tls.ciphers = p.Get(grade == "high" ? "tls_high_cipherlist"
                                        : "tls_medium_cipherlist");
    std::string excluded = GetChecked(p, "smtpd_tls_exclude_ciphers");
    if (mandatory) {
      excluded += " " + GetChecked(p, "smtpd_tls_mandatory_exclude_ciphers");
    }
    std::string normalized = excluded;
    for (char& c : normalized) {
      if (c == ':') c = ' ';
    }
    for (const std::string& cipher : SplitList(normalized)) {
      tls.ciphers += ":!" + cipher;
    }
    return tls;
  }

  void WarnMissingFiles(const Parameters& p, const TlsServerSettings& tls) {
    if (tls.security_level == TlsSecurityLevel::kNone && !tls.wrapper_mode) {
      return;
    }
    for (std::string_view name :
         {"smtpd_tls_cert_file", "smtpd_tls_key_file"}) {
      std::string file = GetChecked(p, name);
      std::error_code error;
      if (file.empty() || std::filesystem::exists(file, error)) continue;
      // The key file defaults to the certificate file, which already got
      // its warning.
      if (name == "smtpd_tls_key_file" && !p.IsSet(name) &&
          file == GetChecked(p, "smtpd_tls_cert_file")) {
        continue;
      }
      ReportAt(Severity::kWarning, p.Locate(name),
               fmt::format("{} \"{}\" does not exist; TLS uses a generated "
                           "self-signed certificate instead",
                           name, file));
    }
  }

  void CheckSafety(const Parameters& p, const Service& service,
                   const SmtpdService& smtpd) {
    const TlsServerSettings& tls = smtpd.tls;
    bool encrypted =
        tls.wrapper_mode || tls.security_level == TlsSecurityLevel::kEncrypt;

    // Postfix refuses to start without a rule that stops relaying; so does
    // mailport, because the result would be an open relay.
    bool blocks_relay = false;
    for (const auto* list :
         {&smtpd.relay_restrictions, &smtpd.recipient_restrictions}) {
      for (Restriction r : *list) {
        if (r == Restriction::kRejectUnauthDestination ||
            r == Restriction::kDeferUnauthDestination ||
            r == Restriction::kReject) {
          blocks_relay = true;
        }
      }
    }
    if (!blocks_relay) {
      ReportAt(Severity::kError, service,
               fmt::format("service \"{}\" would relay mail for anyone: "
                           "smtpd_relay_restrictions and "
                           "smtpd_recipient_restrictions contain none of "
                           "reject_unauth_destination, "
                           "defer_unauth_destination or reject",
                           service.name));
    }

    if (smtpd.sasl_auth_enable && smtpd.sasl_password_file.empty()) {
      ReportAt(Severity::kError, p.Locate("smtpd_sasl_path"),
               fmt::format("service \"{}\" enables AUTH but smtpd_sasl_path "
                           "is empty; set it to the passwd-file of users",
                           service.name));
    }
    if (smtpd.sasl_auth_enable && tls.auth_only &&
        tls.security_level == TlsSecurityLevel::kNone && !tls.wrapper_mode) {
      ReportAt(Severity::kWarning, service,
               fmt::format("service \"{}\" has smtpd_tls_auth_only = yes but "
                           "TLS security level none, so nobody can "
                           "authenticate; set smtpd_tls_security_level to may "
                           "or encrypt",
                           service.name));
    }

    if (!smtpd.submission) return;
    if (!smtpd.sasl_auth_enable) {
      ReportAt(Severity::kWarning, service,
               fmt::format("submission service \"{}\" requires AUTH but "
                           "smtpd_sasl_auth_enable = no, so it accepts no "
                           "mail; add \"-o smtpd_sasl_auth_enable=yes\" to "
                           "this line",
                           service.name));
    } else if (!tls.auth_only && !encrypted) {
      ReportAt(Severity::kWarning, service,
               fmt::format("submission service \"{}\" allows AUTH without "
                           "TLS; add \"-o smtpd_tls_auth_only=yes\" or \"-o "
                           "smtpd_tls_security_level=encrypt\" to this line",
                           service.name));
    }
    if (!encrypted) {
      ReportAt(Severity::kWarning, service,
               fmt::format("submission service \"{}\" accepts mail without "
                           "TLS; add \"-o smtpd_tls_security_level=encrypt\" "
                           "to this line",
                           service.name));
    }
  }

  // Two listeners conflict when they share a port and an address, or one
  // of them is the wildcard of the other's family.
  void CheckConflict(const Service& service, const SmtpdService& smtpd,
                     const std::vector<SmtpdService>& existing) {
    bool v6 = IsIpv6Literal(smtpd.host);
    for (const SmtpdService& other : existing) {
      if (other.port != smtpd.port) continue;
      if (IsIpv6Literal(other.host) != v6) continue;
      bool same = other.host == smtpd.host;
      bool wildcard = smtpd.host == "0.0.0.0" || smtpd.host == "::" ||
                      other.host == "0.0.0.0" || other.host == "::";
      if (!same && !wildcard) continue;
      ReportAt(Severity::kError, service,
               fmt::format("service \"{}\" listens on {}:{}, which conflicts "
                           "with service \"{}\" on line {} ({}:{})",
                           service.name, smtpd.host, smtpd.port, other.name,
                           other.line, other.host, other.port));
      return;
    }
  }

  void AddService(const Service& service, std::vector<SmtpdService>& out) {
    bool columns_ok = CheckColumns(service);
    if (service.type != "inet" || service.command != "smtpd") return;
    CheckOverrides(service);
    Parameters p = config_.main.WithOverrides(service.overrides);
    Validate(p, /*service_scope_only=*/true);

    Result<ServiceEndpoint> endpoint = ParseServiceName(service.name);
    if (!endpoint.ok()) {
      ReportAt(Severity::kError, service,
               fmt::format("invalid service name \"{}\": {}", service.name,
                           endpoint.error().message));
      return;
    }
    std::vector<std::string> hosts;
    if (endpoint->host.empty()) {
      hosts = ListenAddresses(config_.main.Get("inet_interfaces"), protocols_);
      for (const std::string& host : hosts) {
        bool v6 = IsIpv6Literal(host);
        if ((v6 && !protocols_.ipv6) || (!v6 && !protocols_.ipv4)) {
          ReportAt(Severity::kError, config_.main.Locate("inet_interfaces"),
                   fmt::format("inet_interfaces lists {}, but inet_protocols "
                               "excludes its address family",
                               host));
          return;
        }
      }
    } else {
      Result<std::vector<std::string>> addresses =
          HostAddresses(endpoint->host, protocols_);
      if (!addresses.ok()) {
        ReportAt(Severity::kError, service,
                 fmt::format("invalid service name \"{}\": {}", service.name,
                             addresses.error().message));
        return;
      }
      hosts = *addresses;
    }
    if (!columns_ok) return;

    SmtpdService smtpd;
    smtpd.name = service.name;
    smtpd.file = service.file;
    smtpd.line = service.line;
    smtpd.port = endpoint->port;
    smtpd.syslog_name = p.Get("syslog_name");
    smtpd.submission = IsSubmission(p, *endpoint, smtpd.syslog_name);
    smtpd.max_processes =
        service.maxproc_column == "-"
            ? static_cast<int>(
                  GetInteger(config_.main, "default_process_limit"))
            : static_cast<int>(
                  ParseInteger(service.maxproc_column, 0, INT_MAX).value());
    smtpd.myhostname = Lower(GetChecked(p, "myhostname"));
    smtpd.mynetworks = GetNetworks(p);
    smtpd.mydestination = GetDomains(p, "mydestination");
    smtpd.tls = BuildTls(p);
    smtpd.sasl_auth_enable = GetBool(p, "smtpd_sasl_auth_enable");
    smtpd.broken_sasl_auth_clients = GetBool(p, "broken_sasl_auth_clients");
    smtpd.client_auth_rate_limit =
        static_cast<int>(GetInteger(p, "smtpd_client_auth_rate_limit"));
    smtpd.rate_time_unit = GetTime(p, "anvil_rate_time_unit");
    smtpd.reject_unlisted_recipient =
        GetBool(p, "smtpd_reject_unlisted_recipient");
    smtpd.sasl_password_file = GetChecked(p, "smtpd_sasl_path");
    smtpd.banner = p.Get("smtpd_banner");
    smtpd.client_restrictions = GetRestrictions(p, "smtpd_client_restrictions");
    smtpd.helo_restrictions = GetRestrictions(p, "smtpd_helo_restrictions");
    smtpd.sender_restrictions = GetRestrictions(p, "smtpd_sender_restrictions");
    smtpd.relay_restrictions = GetRestrictions(p, "smtpd_relay_restrictions");
    smtpd.recipient_restrictions =
        GetRestrictions(p, "smtpd_recipient_restrictions");
    smtpd.message_size_limit = GetSize(p, "message_size_limit");
    smtpd.recipient_limit = GetInteger(p, "smtpd_recipient_limit");
    smtpd.line_length_limit = GetInteger(p, "line_length_limit");
    smtpd.soft_error_limit =
        static_cast<int>(GetInteger(p, "smtpd_soft_error_limit"));
    smtpd.hard_error_limit =
        static_cast<int>(GetInteger(p, "smtpd_hard_error_limit"));
    smtpd.timeout = GetTime(p, "smtpd_timeout");
    smtpd.session_timeout = GetTime(p, "smtpd_session_timeout");
    smtpd.error_sleep_time = GetTime(p, "smtpd_error_sleep_time");
    smtpd.sasl_failure_delay = GetTime(p, "smtpd_sasl_failure_delay");
    smtpd.sasl_failure_limit =
        static_cast<int>(GetInteger(p, "smtpd_sasl_failure_limit"));
    smtpd.peername_lookup = GetBool(p, "smtpd_peername_lookup");

    WarnMissingFiles(p, smtpd.tls);
    CheckSafety(p, service, smtpd);
    for (const std::string& host : hosts) {
      smtpd.host = host;
      CheckConflict(service, smtpd, out);
      out.push_back(smtpd);
    }
  }

  Config& config_;
  std::set<std::string> reported_;
  std::set<std::string> invalid_settings_;  // SettingKey() of each
  std::set<std::string, std::less<>> referenced_;
  InetProtocols protocols_;
};

}  // namespace

Settings Resolve(Config& config) {
  Resolver resolver(config);
  return resolver.Run();
}

}  // namespace mailport::config
