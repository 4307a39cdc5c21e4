// egressd: the provider-side port-25 gate.
//
// Start-up: load the configuration, open the store, expire what is due,
// rebuild the nftables table in one transaction, open the API, then wake at
// every expiry (and every expiry_check_interval) to expire exceptions and
// resynchronize the sets.  On SIGTERM or SIGINT egressd exits and leaves the
// table in place, so the block stays in force while it is stopped.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <asio.hpp>
#include <chrono>
#include <ctime>

#include "egress/api.h"
#include "egress/config.h"
#include "egress/enforcer.h"
#include "egress/gate.h"
#include "egress/http.h"
#include "egress/store.h"
#include "util/fs.h"
#include "util/log.h"

namespace {

using namespace mailport;
using namespace mailport::egress;

std::int64_t UnixNow() { return static_cast<std::int64_t>(std::time(nullptr)); }

asio::awaitable<void> ExpiryLoop(Gate& gate, std::chrono::seconds interval) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    std::int64_t now = gate.Now();
    std::int64_t next = gate.NextExpiry();
    auto wait = interval;
    if (next != 0) {
      wait = std::min(
          wait, std::chrono::seconds(std::max<std::int64_t>(next - now, 0)));
    }
    // At least a second apart, so that a sync that keeps failing on a due
    // expiry does not spin.
    timer.expires_after(std::max(wait, std::chrono::seconds(1)));
    co_await timer.async_wait(asio::use_awaitable);
    if (Status status = gate.ExpireAndSync(); !status) {
      log::Error("event=expiry-check-failed error={}", status.error().message);
    }
  }
}

int Run(const std::string& config_path, bool check_only) {
  auto config = LoadConfig(config_path);
  if (!config) {
    std::fprintf(stderr, "egressd: %s\n", config.error().message.c_str());
    return 2;
  }
  log::Init(config->log_file, config->log_level);
  auto tokens = LoadTokens(config->api_token_file);
  if (!tokens) {
    log::Error("event=start-failed error={}", tokens.error().message);
    return 2;
  }
  if (check_only) {
    NftEnforcer enforcer(*config);
    std::printf("%s", enforcer.BuildRuleset({}, UnixNow()).c_str());
    return 0;
  }

  if (Status status = fs::CreateDirectories(config->database.parent_path());
      !status) {
    log::Error("event=start-failed error={}", status.error().message);
    return 1;
  }
  if (config->api_listen.rfind("unix:", 0) == 0) {
    std::filesystem::path socket_path = config->api_listen.substr(5);
    if (Status status = fs::CreateDirectories(socket_path.parent_path(), 0755);
        !status) {
      log::Error("event=start-failed error={}", status.error().message);
      return 1;
    }
  }
  auto store = Store::Open(config->database);
  if (!store) {
    log::Error("event=start-failed error={}", store.error().message);
    return 1;
  }
  NftEnforcer enforcer(*config);
  Gate gate(*config, **store, enforcer, UnixNow);
  if (Status status = gate.Start(); !status) {
    log::Error("event=start-failed error={}", status.error().message);
    return 1;
  }

  asio::io_context context;
  Api api(gate, enforcer, std::move(*tokens));
  http::Server server(context, [&api](const http::Request& request) {
    return api.Handle(request);
  });
  if (Status status = server.Listen(config->api_listen); !status) {
    log::Error("event=start-failed error={}", status.error().message);
    return 1;
  }
  asio::co_spawn(context, ExpiryLoop(gate, config->expiry_check_interval),
                 [](std::exception_ptr error) {
                   if (error) log::Error("event=expiry-loop-stopped");
                 });
  asio::signal_set signals(context, SIGTERM, SIGINT);
  signals.async_wait([&context](std::error_code, int signal) {
    log::Info("event=stop signal={}", signal);
    context.stop();
  });
  log::Info("event=start api={} table=inet/{}", config->api_listen,
            config->table_name);
  context.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "egressd: blocks TCP port 25 from instance addresses unless "
      "an approved unblock request allows it"};
  std::string config_path = "/etc/mailport/egressd.conf";
  bool check_only = false;
  app.add_option("-c,--config", config_path, "configuration file");
  app.add_flag("--check", check_only,
               "validate the configuration and print the rule set that "
               "egressd would load, without an exception");
  CLI11_PARSE(app, argc, argv);
  return Run(config_path, check_only);
}
