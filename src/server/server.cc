#include "server/server.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <map>
#include <thread>

#include "auth/passwd_file.h"
#include "delivery/maildir.h"
#include "queue/queue_manager.h"
#include "queue/spool.h"
#include "server/session.h"
#include "smtp/command.h"
#include "tls/server_context.h"
#include "util/fs.h"
#include "util/log.h"

namespace mailport::server {
namespace {

constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);
// Local delivery waits on fsync more than on the CPU, so a few more
// threads than cores keep the disk busy.
constexpr int kDeliveryThreads = 4;

std::string DescribeService(const config::SmtpdService& service) {
  return "service \"" + service.name + "\" (" + service.file + ":" +
         std::to_string(service.line) + ", " + service.host + ":" +
         std::to_string(service.port) + ")";
}

bool NeedsTls(const config::SmtpdService& service) {
  return service.tls.wrapper_mode ||
         service.tls.security_level != config::TlsSecurityLevel::kNone;
}

// Returns a string that is equal for two services exactly when their TLS
// contexts would be built the same way.
std::string TlsSettingsKey(const config::SmtpdService& service) {
  const config::TlsServerSettings& tls = service.tls;
  std::string key = tls.cert_file.string() + '\n' + tls.key_file.string();
  for (const auto& chain : tls.chain_files) key += '\n' + chain.string();
  key += '\n' + tls.session_cache_path.string() + '\n' + tls.ciphers + '\n' +
         service.myhostname;
  key += '\n' + std::to_string(static_cast<int>(tls.min_version)) + '-' +
         std::to_string(static_cast<int>(tls.max_version)) + '-' +
         std::to_string(tls.loglevel) + '-' +
         std::to_string(tls.session_tickets) + '-' +
         std::to_string(tls.session_cache_timeout.count());
  return key;
}

// Gives `path` and everything below it to `uid`:`gid`.
Status ChangeOwnerRecursively(const std::filesystem::path& path, uid_t uid,
                              gid_t gid) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return Status::Ok();
  if (::lchown(path.c_str(), uid, gid) != 0) {
    return PermanentError("chown " + path.string() +
                          " failed: " + fs::ErrnoText(errno));
  }
  if (!std::filesystem::is_directory(path, error)) return Status::Ok();
  for (auto it = std::filesystem::recursive_directory_iterator(path, error);
       !error && it != std::filesystem::recursive_directory_iterator();
       it.increment(error)) {
    if (::lchown(it->path().c_str(), uid, gid) != 0) {
      return PermanentError("chown " + it->path().string() +
                            " failed: " + fs::ErrnoText(errno));
    }
  }
  return Status::Ok();
}

// Gives `path` the group `gid` and group read access, because the
// passwd-files are reread after every change, when mailportd runs as
// mail_owner.  Other users stay locked out.
Status GrantGroupRead(const std::filesystem::path& path,
                      const std::string& owner, gid_t gid) {
  struct stat status {};
  if (path.empty() || ::stat(path.c_str(), &status) != 0) return Status::Ok();
  if (status.st_gid == gid && (status.st_mode & S_IRGRP) != 0) {
    return Status::Ok();
  }
  if (::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0 ||
      ::chmod(path.c_str(), (status.st_mode & 0700) | S_IRGRP) != 0) {
    return PermanentError("making " + path.string() +
                          " readable by mail_owner \"" + owner +
                          "\" failed: " + fs::ErrnoText(errno));
  }
  log::Info("{}: group set to {} and made group-readable for mail_owner",
            path.string(), owner);
  return Status::Ok();
}

}  // namespace

struct Server::Impl {
  explicit Impl(config::Settings settings_in)
      : settings(std::move(settings_in)),
        threads(std::max(2u, std::thread::hardware_concurrency())),
        blocking_pool(4),
        signals(io, SIGINT, SIGTERM, SIGHUP) {}

  struct Listener {
    std::unique_ptr<asio::ip::tcp::acceptor> acceptor;
    std::unique_ptr<ServiceContext> context;
  };

  asio::awaitable<void> Accept(Listener& listener);
  void WaitForSignal();

  config::Settings settings;
  unsigned threads;
  asio::io_context io;
  // crypt(3) for AUTH and the client's host name lookup; both block.
  asio::thread_pool blocking_pool;
  asio::signal_set signals;
  std::vector<Listener> listeners;
  std::map<std::filesystem::path, std::shared_ptr<auth::UserDatabase>>
      user_databases;
  std::unique_ptr<delivery::MaildirTransport> local;
  std::unique_ptr<queue::Spool> spool;
  std::unique_ptr<queue::CommitQueue> commit_queue;
  std::unique_ptr<queue::QueueManager> queue_manager;
};

Server::Server(config::Settings settings)
    : impl_(std::make_unique<Impl>(std::move(settings))) {}

Server::~Server() {
  // Sessions hold pointers into the queue; stop them before the queue.
  impl_->io.stop();
  if (impl_->queue_manager) impl_->queue_manager->Stop();
  impl_->blocking_pool.join();
}

Status Server::Prepare() {
  const config::GlobalSettings& global = impl_->settings.global;
  for (const auto& directory :
       {global.data_directory, global.queue_directory, global.mailbox_base}) {
    if (directory.empty()) continue;
    Status created = fs::CreateDirectories(directory, 0700);
    if (!created.ok()) {
      return PermanentError(created.error().message +
                            "; create it or set data_directory, "
                            "queue_directory and mailbox_base in main.cf");
    }
  }

  if (impl_->settings.services.empty()) {
    return PermanentError(
        "master.cf defines no smtpd service; add a line such as "
        "\"smtp inet n - n - - smtpd\"");
  }

  // One user database per passwd-file; local delivery uses the one of the
  // first service, which is the main.cf setting unless that service
  // overrides smtpd_sasl_path.
  for (const config::SmtpdService& service : impl_->settings.services) {
    auto& database = impl_->user_databases[service.sasl_password_file];
    if (!database) {
      database =
          std::make_shared<auth::UserDatabase>(service.sasl_password_file);
    }
  }
  impl_->local = std::make_unique<delivery::MaildirTransport>(
      global, impl_->user_databases[impl_->settings.services.front()
                                        .sasl_password_file]);
  return Status::Ok();
}

Status Server::OpenListeners() {
  std::map<std::string, std::shared_ptr<tls::ServerContext>> tls_contexts;
  for (const config::SmtpdService& service : impl_->settings.services) {
    auto context = std::make_unique<ServiceContext>();
    context->service = &service;
    context->global = &impl_->settings.global;
    context->users = impl_->user_databases[service.sasl_password_file];
    context->local = impl_->local.get();
    context->blocking_pool = &impl_->blocking_pool;
    context->auth_rate = std::make_unique<RateLimiter>(
        service.client_auth_rate_limit, service.rate_time_unit);

    if (NeedsTls(service)) {
      // Services with the same TLS settings share one context, so the
      // certificate is loaded once and sessions resume across them.
      std::string key = TlsSettingsKey(service);
      auto& shared = tls_contexts[key];
      if (!shared) {
        auto tls = tls::ServerContext::Create(
            service.tls, impl_->settings.global.data_directory,
            service.myhostname);
        if (!tls.ok()) {
          return PermanentError(DescribeService(service) + ": " +
                                tls.error().message);
        }
        shared = *tls;
      }
      context->tls = shared;
    }

    std::error_code error;
    asio::ip::address address = asio::ip::make_address(service.host, error);
    if (error) {
      return PermanentError(DescribeService(service) +
                            ": invalid listen address \"" + service.host +
                            "\"");
    }
    asio::ip::tcp::endpoint endpoint(address, service.port);
    auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(impl_->io);
    acceptor->open(endpoint.protocol(), error);
    if (!error) acceptor->set_option(asio::socket_base::reuse_address(true));
    if (!error && address.is_v6()) {
      // "::" and "0.0.0.0" are separate services, so each socket takes
      // only its own family.
      acceptor->set_option(asio::ip::v6_only(true), error);
    }
    if (!error) acceptor->bind(endpoint, error);
    if (!error)
      acceptor->listen(asio::socket_base::max_listen_connections, error);
    if (error) {
      std::string hint;
      if (error == asio::error::access_denied) {
        hint = "; ports below 1024 need root (or CAP_NET_BIND_SERVICE)";
      } else if (error == asio::error::address_in_use) {
        hint =
            "; another program listens there (stop it, or change the "
            "service in master.cf)";
      } else if (error == std::errc::address_not_available) {
        hint =
            "; the address is not configured on this host (check "
            "inet_interfaces)";
      }
      return PermanentError(DescribeService(service) +
                            ": bind failed: " + error.message() + hint);
    }
    impl_->listeners.push_back(
        Impl::Listener{std::move(acceptor), std::move(context)});
  }
  return Status::Ok();
}

Status Server::DropPrivileges() {
  const std::string& owner = impl_->settings.global.mail_owner;
  if (::geteuid() != 0) return Status::Ok();
  if (owner.empty()) {
    log::Warn(
        "running as root: set mail_owner in main.cf to an unprivileged "
        "user such as \"mailport\" (created with \"useradd --system "
        "mailport\")");
    return Status::Ok();
  }
  struct passwd* entry = ::getpwnam(owner.c_str());
  if (entry == nullptr) {
    return PermanentError("mail_owner \"" + owner +
                          "\" is not a user of this system; create it with "
                          "\"useradd --system " +
                          owner + "\" or change mail_owner");
  }
  uid_t uid = entry->pw_uid;
  gid_t gid = entry->pw_gid;
  const config::GlobalSettings& global = impl_->settings.global;
  for (const auto& directory :
       {global.data_directory, global.queue_directory, global.mailbox_base}) {
    Status owned = ChangeOwnerRecursively(directory, uid, gid);
    if (!owned.ok()) return owned;
  }
  for (const auto& [path, database] : impl_->user_databases) {
    Status readable = GrantGroupRead(path, owner, gid);
    if (!readable.ok()) return readable;
  }

  if (::initgroups(owner.c_str(), gid) != 0 || ::setgid(gid) != 0 ||
      ::setuid(uid) != 0) {
    return PermanentError("switching to mail_owner \"" + owner +
                          "\" failed: " + fs::ErrnoText(errno));
  }
  log::Info("running as mail_owner {} (uid {})", owner, uid);
  return Status::Ok();
}

Status Server::StartQueue() {
  auto spool = queue::Spool::Open(impl_->settings.global.queue_directory);
  if (!spool.ok()) {
    return PermanentError("cannot open the queue: " + spool.error().message);
  }
  impl_->spool = std::move(*spool);
  impl_->commit_queue = std::make_unique<queue::CommitQueue>(*impl_->spool);

  const config::GlobalSettings& global = impl_->settings.global;
  delivery::MaildirTransport* local = impl_->local.get();
  queue::TransportSelector select =
      [local](std::string_view recipient) -> queue::Transport* {
    std::string domain = smtp::DomainOf(recipient);
    // The session qualifies every recipient, so an empty domain is never
    // local here, although IsLocalDomain() treats it as local.
    if (!domain.empty() && local->IsLocalDomain(domain)) return local;
    return nullptr;
  };
  impl_->queue_manager = std::make_unique<queue::QueueManager>(
      *impl_->spool, global, select, kDeliveryThreads);
  for (auto& listener : impl_->listeners) {
    listener.context->commit_queue = impl_->commit_queue.get();
    listener.context->queue_manager = impl_->queue_manager.get();
  }
  impl_->queue_manager->Start();
  return Status::Ok();
}

asio::awaitable<void> Server::Impl::Accept(Listener& listener) {
  ServiceContext& context = *listener.context;
  const config::SmtpdService& service = *context.service;
  // A flood of connections past maxproc logs one line a minute, with the
  // count, rather than one line per connection.
  int rejected_since_warning = 0;
  std::chrono::steady_clock::time_point last_warning{};
  for (;;) {
    auto strand = asio::make_strand(io);
    auto [error, socket] =
        co_await listener.acceptor->async_accept(strand, kAsTuple);
    if (error == asio::error::operation_aborted) co_return;
    if (error) {
      log::Warn("accept on {} failed: {}", DescribeService(service),
                error.message());
      // Out of descriptors or memory: pause instead of spinning.
      asio::steady_timer pause(io, std::chrono::milliseconds(100));
      co_await pause.async_wait(kAsTuple);
      continue;
    }
    if (service.max_processes > 0 &&
        context.active_sessions.load() >= service.max_processes) {
      static const std::string kBusy =
          "421 4.3.2 Service busy, too many connections; try again later\r\n";
      std::error_code ignored;
      asio::write(socket, asio::buffer(kBusy), ignored);
      ++rejected_since_warning;
      auto now = std::chrono::steady_clock::now();
      if (last_warning == std::chrono::steady_clock::time_point{} ||
          now - last_warning >= std::chrono::minutes(1)) {
        log::Warn(
            "{}: maxproc limit of {} sessions reached; rejected {} "
            "connection(s) with 421 since the last warning; raise the "
            "maxproc column in master.cf if this load is expected",
            DescribeService(service), service.max_processes,
            rejected_since_warning);
        rejected_since_warning = 0;
        last_warning = now;
      }
      continue;
    }
    ++context.active_sessions;
    auto session = std::make_shared<Session>(std::move(socket), context);
    asio::co_spawn(strand, session->Run(),
                   [&context, session](const std::exception_ptr& failure) {
                     --context.active_sessions;
                     if (!failure) return;
                     try {
                       std::rethrow_exception(failure);
                     } catch (const std::exception& exception) {
                       log::Error("session aborted: {}", exception.what());
                     }
                   });
  }
}

void Server::Impl::WaitForSignal() {
  signals.async_wait([this](std::error_code error, int signal_number) {
    if (error) return;
    if (signal_number == SIGHUP) {
      log::Info("SIGHUP: flushing the queue");
      if (queue_manager) queue_manager->FlushAll();
      WaitForSignal();
      return;
    }
    log::Info("signal {}: stopping", signal_number);
    for (auto& listener : listeners) {
      std::error_code ignored;
      listener.acceptor->close(ignored);
    }
    io.stop();
  });
}

int Server::Run() {
  for (auto& listener : impl_->listeners) {
    asio::co_spawn(impl_->io, impl_->Accept(listener), asio::detached);
    const config::SmtpdService& service = *listener.context->service;
    std::string tls = "no TLS";
    if (service.tls.wrapper_mode) {
      tls = "implicit TLS";
    } else if (service.tls.security_level ==
               config::TlsSecurityLevel::kEncrypt) {
      tls = "STARTTLS required";
    } else if (service.tls.security_level == config::TlsSecurityLevel::kMay) {
      tls = "STARTTLS offered";
    }
    log::Info("listening on {}:{} for service {} ({}{}{})", service.host,
              service.port, service.name, tls,
              service.sasl_auth_enable ? ", AUTH" : "",
              service.submission ? ", submission" : "");
  }
  impl_->WaitForSignal();
  log::Info("daemon started: mailport {}", MAILPORT_VERSION);

  std::vector<std::thread> workers;
  for (unsigned i = 1; i < impl_->threads; ++i) {
    workers.emplace_back([this] { impl_->io.run(); });
  }
  impl_->io.run();
  for (auto& worker : workers) worker.join();

  if (impl_->queue_manager) impl_->queue_manager->Stop();
  log::Info("daemon stopped");
  return 0;
}

void Server::Stop() {
  asio::post(impl_->io, [this] { impl_->io.stop(); });
}

}  // namespace mailport::server
