// mailportd: the mail server daemon.  Runs in the foreground and logs to
// standard error unless maillog_file is set.
//
//   mailportd -c /etc/mailport        run the configuration in that directory
//   mailportd [--data-directory DIR]  run the embedded default configuration
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <random>

#include "auth/passwd_file.h"
#include "common/load_config.h"
#include "server/server.h"
#include "tls/self_signed.h"
#include "util/fs.h"
#include "util/log.h"

namespace {

using mailport::apps::LoadedConfig;

std::string RandomPassword() {
  static constexpr char kAlphabet[] =
      "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::random_device device;
  std::uniform_int_distribution<std::size_t> pick(0, sizeof kAlphabet - 2);
  std::string password;
  for (int i = 0; i < 16; ++i) password += kAlphabet[pick(device)];
  return password;
}

// The embedded configuration comes with one demo user, so that a new user
// can send a first message at once.  Its password is kept in
// DATA/demo-password so that later starts can print it again.
bool PrepareDemoUser(const mailport::config::Settings& settings,
                     std::string& password) {
  const auto& service = settings.services.front();
  std::filesystem::path password_file =
      settings.global.data_directory / "demo-password";
  auto users = mailport::auth::PasswdFile::Load(service.sasl_password_file);
  if (!users.ok()) {
    std::cerr << "mailportd: fatal: " << users.error().message << "\n";
    return false;
  }
  auto saved = mailport::fs::ReadFile(password_file);
  if (users->Find("demo") && saved.ok()) {
    password = *saved;
    while (!password.empty() && password.back() == '\n') password.pop_back();
    return true;
  }
  password = RandomPassword();
  mailport::Status stored = users->SetPassword("demo", password);
  if (stored.ok()) {
    stored =
        mailport::fs::WriteFileDurably(password_file, password + "\n", 0600);
  }
  if (!stored.ok()) {
    std::cerr << "mailportd: fatal: creating the demo user failed: "
              << stored.error().message << "\n";
    return false;
  }
  return true;
}

void PrintDemoInstructions(const mailport::config::Settings& settings,
                           const std::string& password) {
  const mailport::config::SmtpdService* submission = nullptr;
  for (const auto& service : settings.services) {
    if (service.submission && !service.tls.wrapper_mode) submission = &service;
  }
  if (submission == nullptr) return;
  std::string address = "demo@localhost";
  std::string host = submission->host.find(':') != std::string::npos
                         ? "[" + submission->host + "]"
                         : submission->host;
  std::cout << "\nmailportd is starting on the embedded default "
               "configuration.\n"
            << "Demo user: demo   password: " << password << "\n"
            << "Mail for " << address << " is delivered to "
            << (settings.global.mailbox_base / "demo" /
                settings.global.home_mailbox)
                   .string()
            << "new/\n\n"
            << "Send a test message through port " << submission->port
            << " with STARTTLS and AUTH:\n\n"
            << "  swaks --server " << host << ":" << submission->port
            << " --tls --auth LOGIN --auth-user demo --auth-password '"
            << password << "' --from " << address << " --to " << address
            << "\n\n"
            << std::flush;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mailport mail server daemon"};
  app.set_version_flag("--version", "mailportd " MAILPORT_VERSION);
  std::optional<std::filesystem::path> config_directory;
  std::filesystem::path data_directory = mailport::apps::kDefaultDataDirectory;
  std::string log_level = "info";
  app.add_option("-c,--config-directory", config_directory,
                 "directory with main.cf and master.cf");
  app.add_option("--data-directory", data_directory,
                 "data directory of the embedded default configuration "
                 "(used without -c)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);

  LoadedConfig loaded =
      mailport::apps::LoadConfig(config_directory, data_directory, std::cerr);
  if (loaded.errors > 0) {
    std::cerr << "mailportd: fatal: the configuration has " << loaded.errors
              << (loaded.errors == 1 ? " error" : " errors")
              << "; fix the lines named above and start again\n";
    return 1;
  }
  const mailport::config::Settings& settings = loaded.settings;
  mailport::log::Init(settings.global.maillog_file, log_level);

  mailport::server::Server server(settings);
  mailport::Status status = server.Prepare();

  std::string demo_password;
  if (status.ok() && loaded.embedded &&
      !PrepareDemoUser(settings, demo_password)) {
    return 1;
  }
  if (status.ok()) status = server.OpenListeners();
  if (status.ok()) status = server.DropPrivileges();
  if (status.ok()) status = server.StartQueue();
  if (!status.ok()) {
    mailport::log::Error("fatal: {}", status.error().message);
    return 1;
  }
  if (loaded.embedded) PrintDemoInstructions(settings, demo_password);
  return server.Run();
}
