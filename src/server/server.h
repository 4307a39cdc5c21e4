// The mailportd server: listeners, sessions, TLS contexts and the queue.
//
// Start-up is a recipe, each step a call that main() makes in order and
// that returns an error naming what failed and how to fix it:
//   Prepare()         create data and queue directories, TLS contexts
//                     (generating a self-signed certificate if needed) and
//                     the user database;
//   OpenListeners()   bind every smtpd service (needs root for ports < 1024);
//   DropPrivileges()  switch to mail_owner when running as root;
//   StartQueue()      open the spool and deliver what a crash left in it;
//   Run()             serve until SIGTERM or SIGINT; SIGHUP flushes the
//                     queue.
// Network I/O runs on a small pool of threads, each session on its own
// strand; fsync runs on the CommitQueue's disk thread and crypt(3) on a
// separate blocking pool.
#pragma once

#include <memory>

#include "config/settings.h"
#include "util/result.h"

namespace mailport::server {

class Server {
 public:
  explicit Server(config::Settings settings);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Status Prepare();
  Status OpenListeners();
  Status DropPrivileges();
  Status StartQueue();
  // Returns the process exit status.
  int Run();

  // Asks Run() to return; safe from any thread.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailport::server
