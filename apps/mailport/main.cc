// mailport: the administration command.
//
//   mailport [-c DIR] check                      validate the configuration
//   mailport [-c DIR] user add|passwd|delete NAME
//   mailport [-c DIR] user list
//   mailport [-c DIR] tls selfsigned [--hostname H] [--cert F --key F]
//   mailport [-c DIR] queue list
//
// Passwords are read from standard input (one line), never from the
// command line, where other users could see them in the process list.
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <set>

#include "auth/passwd_file.h"
#include "common/load_config.h"
#include "queue/spool.h"
#include "tls/self_signed.h"

namespace {

using mailport::apps::LoadedConfig;

// Reads one line from standard input, without echo when it is a terminal.
std::optional<std::string> ReadPassword(const std::string& prompt) {
  bool terminal = ::isatty(STDIN_FILENO) != 0;
  termios saved{};
  if (terminal) {
    std::cerr << prompt << std::flush;
    ::tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  bool read = static_cast<bool>(std::getline(std::cin, line));
  if (terminal) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  if (!read) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// Turns "FILE:LINE: text" into "FILE:LINE: SEVERITY: text", the form of
// the configuration diagnostics.
std::string WithSeverity(const std::string& message, const char* severity) {
  std::size_t colon = message.find(':');
  std::size_t separator =
      colon == std::string::npos ? colon : message.find(": ", colon + 1);
  if (separator == std::string::npos) {
    return std::string(severity) + ": " + message;
  }
  return message.substr(0, separator) + ": " + severity + ": " +
         message.substr(separator + 2);
}

int Fail(const std::string& message) {
  std::cerr << "mailport: " << message << "\n";
  return 1;
}

std::filesystem::path PasswdPath(const LoadedConfig& loaded) {
  if (!loaded.settings.services.empty()) {
    return loaded.settings.services.front().sasl_password_file;
  }
  return loaded.config.main.Get("smtpd_sasl_path");
}

int RunUserCommand(const LoadedConfig& loaded, const std::string& action,
                   const std::string& name) {
  std::filesystem::path path = PasswdPath(loaded);
  if (path.empty()) {
    return Fail(
        "smtpd_sasl_path is empty; set it in main.cf to the "
        "passwd-file of users");
  }
  auto users = mailport::auth::PasswdFile::Load(path);
  if (!users.ok()) return Fail(users.error().message);

  if (action == "list") {
    for (const auto& user : users->users()) std::cout << user.name << "\n";
    return 0;
  }
  mailport::Status status;
  if (action == "delete") {
    status = users->Remove(name);
  } else {
    std::optional<std::string> password = ReadPassword("Password: ");
    if (!password) {
      return Fail(
          "no password on standard input; pipe it in, e.g. "
          "printf '%s\\n' 'secret' | mailport user " +
          action + " " + name);
    }
    status = action == "add" ? users->Add(name, *password)
                             : users->SetPassword(name, *password);
  }
  if (!status.ok()) return Fail(status.error().message);
  std::cout << "mailport: user " << name << " "
            << (action == "add"      ? "added"
                : action == "delete" ? "deleted"
                                     : "password changed")
            << " in " << path.string() << "\n";
  return 0;
}

int RunSelfSigned(const LoadedConfig& loaded, std::string hostname,
                  std::filesystem::path cert, std::filesystem::path key,
                  int days, bool force) {
  if (hostname.empty()) hostname = loaded.settings.global.myhostname;
  if (cert.empty() || key.empty()) {
    const auto& data = loaded.settings.global.data_directory;
    if (cert.empty()) cert = data / "tls" / "selfsigned-cert.pem";
    if (key.empty()) key = data / "tls" / "selfsigned-key.pem";
  }
  std::error_code error;
  for (const auto& path : {cert, key}) {
    if (!force && std::filesystem::exists(path, error)) {
      return Fail(path.string() +
                  " already exists; clients that accepted its certificate "
                  "would see a new one. Pass --force to replace it, or "
                  "--cert and --key to write elsewhere");
    }
  }
  std::filesystem::create_directories(cert.parent_path(), error);
  std::filesystem::create_directories(key.parent_path(), error);
  mailport::Status status =
      mailport::tls::GenerateSelfSigned(cert, key, hostname, days);
  if (!status.ok()) return Fail(status.error().message);
  auto fingerprint = mailport::tls::FileFingerprint(cert);
  std::cout << "certificate: " << cert.string() << "\n"
            << "key:         " << key.string() << "\n"
            << "subject:     CN=" << hostname << "\n"
            << "SHA-256 fingerprint: "
            << (fingerprint.ok() ? *fingerprint : "unavailable") << "\n";
  return 0;
}

int RunQueueList(const LoadedConfig& loaded) {
  const auto& directory = loaded.settings.global.queue_directory;
  std::error_code error;
  if (!std::filesystem::is_directory(directory / "active", error)) {
    return Fail("no queue at " + directory.string() +
                "; pass -c DIR (or --data-directory DIR for the embedded "
                "configuration) to name the server's configuration");
  }
  auto spool = mailport::queue::Spool::Open(directory);
  if (!spool.ok()) return Fail(spool.error().message);
  int count = 0;
  for (const std::string& id : (*spool)->List()) {
    auto message = (*spool)->Read(id);
    if (!message.ok()) {
      std::cout << id << "  (unreadable: " << message.error().message << ")\n";
      continue;
    }
    ++count;
    std::cout << id << "  from=<" << message->envelope.sender << ">\n";
    for (const auto& recipient : message->recipients) {
      const char* state = "pending";
      if (recipient.status ==
          mailport::queue::RecipientState::Status::kDelivered) {
        state = "delivered";
      } else if (recipient.status ==
                 mailport::queue::RecipientState::Status::kBounced) {
        state = "bounced";
      }
      std::cout << "    to=<" << recipient.address << "> " << state;
      if (!recipient.last_reply.empty()) {
        std::cout << " (" << recipient.last_reply << ")";
      }
      std::cout << "\n";
    }
  }
  std::cout << "-- " << count << (count == 1 ? " message" : " messages")
            << " in the queue\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mailport administration"};
  app.set_version_flag("--version", "mailport " MAILPORT_VERSION);
  app.require_subcommand(1);
  std::optional<std::filesystem::path> config_directory;
  std::filesystem::path data_directory = mailport::apps::kDefaultDataDirectory;
  app.add_option("-c,--config-directory", config_directory,
                 "directory with main.cf and master.cf");
  app.add_option("--data-directory", data_directory,
                 "data directory of the embedded default configuration "
                 "(used without -c)");

  auto* check = app.add_subcommand(
      "check", "validate main.cf and master.cf and print every problem");

  auto* user = app.add_subcommand("user",
                                  "manage the users of the "
                                  "passwd-file (smtpd_sasl_path)");
  user->require_subcommand(1);
  std::string user_name;
  for (const char* action : {"add", "passwd", "delete"}) {
    auto* command = user->add_subcommand(
        action, std::string(action) == "add"      ? "add a user"
                : std::string(action) == "passwd" ? "set a user's password"
                                                  : "delete a user");
    command->add_option("NAME", user_name, "user name or address")->required();
  }
  user->add_subcommand("list", "list the users");

  auto* tls = app.add_subcommand("tls", "TLS certificates");
  tls->require_subcommand(1);
  auto* selfsigned =
      tls->add_subcommand("selfsigned", "create a self-signed certificate");
  std::string hostname;
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  int days = 3650;
  selfsigned->add_option("--hostname", hostname,
                         "certificate subject (default: myhostname)");
  selfsigned->add_option("--cert", cert_file, "certificate file to write");
  selfsigned->add_option("--key", key_file, "key file to write");
  selfsigned->add_option("--days", days, "validity in days")
      ->check(CLI::Range(1, 36500));
  bool force = false;
  selfsigned->add_flag("--force", force, "replace existing files");

  auto* queue = app.add_subcommand("queue", "inspect the mail queue");
  queue->require_subcommand(1);
  queue->add_subcommand("list", "list queued messages");

  CLI11_PARSE(app, argc, argv);

  std::ostream& diagnostics = check->parsed() ? std::cout : std::cerr;
  // Only check lists warnings; the other commands would repeat them on
  // every call.
  LoadedConfig loaded = mailport::apps::LoadConfig(
      config_directory, data_directory, diagnostics, check->parsed());

  if (check->parsed()) {
    // The passwd-files are part of the configuration: a malformed line is
    // an error, a hash that can never authenticate a warning.
    std::set<std::filesystem::path> passwd_files;
    for (const auto& service : loaded.settings.services) {
      if (service.sasl_auth_enable ||
          &service == &loaded.settings.services[0]) {
        passwd_files.insert(service.sasl_password_file);
      }
    }
    for (const auto& path : passwd_files) {
      if (path.empty()) continue;
      auto users = mailport::auth::PasswdFile::Load(path);
      if (!users.ok()) {
        std::cout << WithSeverity(users.error().message, "error") << "\n";
        ++loaded.errors;
        continue;
      }
      for (const std::string& warning : users->warnings()) {
        std::cout << WithSeverity(warning, "warning") << "\n";
        ++loaded.warnings;
      }
      // RFC 5321 section 4.5.1: every domain must accept mail for
      // postmaster, and local recipients must be users of this file.
      if (path == loaded.settings.services.front().sasl_password_file &&
          !users->Find("postmaster")) {
        std::cout << path.string()
                  << ": warning: no user \"postmaster\", so mail to "
                     "postmaster is rejected, although RFC 5321 requires "
                     "it to be accepted; add one with \"mailport user add "
                     "postmaster\"\n";
        ++loaded.warnings;
      }
    }
    std::cout << "mailport: " << loaded.errors
              << (loaded.errors == 1 ? " error, " : " errors, ")
              << loaded.warnings
              << (loaded.warnings == 1 ? " warning\n" : " warnings\n");
    return loaded.errors > 0 ? 1 : 0;
  }
  if (loaded.errors > 0) {
    return Fail(
        "the configuration has errors; run \"mailport check\" and "
        "fix them first");
  }
  if (user->parsed()) {
    for (const char* action : {"add", "passwd", "delete", "list"}) {
      if (user->got_subcommand(action)) {
        return RunUserCommand(loaded, action, user_name);
      }
    }
  }
  if (selfsigned->parsed()) {
    return RunSelfSigned(loaded, hostname, cert_file, key_file, days, force);
  }
  if (queue->parsed()) return RunQueueList(loaded);
  return 0;
}
