// Local delivery into Maildir, as maildir(5) and qmail define it.
//
// A message is written to DIR/tmp/UNIQUE, fsynced, renamed to
// DIR/new/UNIQUE,S=SIZE and DIR/new is fsynced, so a delivered message is
// on disk before the queue records the recipient as delivered.  UNIQUE is
// SECONDS.MmicrosecondsPpidQcounter.HOST, where HOST is this host's name
// with '/' and ':' written as \057 and \072.  SIZE is the size of the
// file.  The rename does not replace an existing file, so a name collision
// (another host writing with the same name over NFS) is an error, never
// a lost message.
//
// Files are stored with LF line ends, the Unix convention that Dovecot and
// mail user agents reading Maildir expect; the queue keeps CRLF.  Return-Path
// and Delivered-To are prepended.  A message that already carries
// Delivered-To for the same recipient is bounced as a mail loop (5.4.6).
//
// Disk errors are temporary (deferred, 4.3.0).  An unknown user is
// permanent (bounced, 5.1.1).
//
// NOTE: files are created with the daemon's own uid; delivering as the
// mailbox owner needs a privileged helper that does not exist yet.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "auth/passwd_file.h"
#include "config/settings.h"
#include "queue/queue_manager.h"

namespace mailport::delivery {

// Writes one message into the Maildir `directory` (creating it and its
// cur, new and tmp with mode 0700 as needed).  Returns the path of the
// delivered file in new/.
Result<std::filesystem::path> DeliverToMaildir(
    const std::filesystem::path& directory, std::string_view prefix_headers,
    std::string_view content, const std::string& hostname);

// Transport for recipients whose domain is in mydestination.  The full
// address, or else the local part, must be a user of the passwd-file.  The
// mailbox is HOME/home_mailbox, or mailbox_base/USER/home_mailbox when the
// user has no home field (USER as written in the passwd-file).
// home_mailbox must end in '/' (Maildir), because mbox is not supported.
//
// Safe to call from several threads: it only reads settings and consults
// the thread-safe UserDatabase.
class MaildirTransport : public queue::Transport {
 public:
  MaildirTransport(const config::GlobalSettings& settings,
                   std::shared_ptr<auth::UserDatabase> users);

  queue::DeliveryOutcome Deliver(const queue::Envelope& envelope,
                                 const std::string& recipient,
                                 std::string_view content) override;

  // Returns true when `domain` (any case, trailing dot allowed) is in
  // mydestination.  An empty domain is local, as for "postmaster".
  bool IsLocalDomain(std::string_view domain) const;

  // Returns true when `recipient` is in a local domain and is a known user.
  // It also returns false when the lookup failed temporarily, so a caller
  // that must reply 4xx in that case uses MailboxFor() instead.
  bool IsLocalRecipient(std::string_view recipient);

  // Returns the Maildir directory for `recipient`.  The error is permanent
  // when the domain is not local or the user is unknown, and temporary when
  // the user database cannot be read or the settings give no mailbox.
  Result<std::filesystem::path> MailboxFor(std::string_view recipient);

 private:
  const config::GlobalSettings& settings_;
  std::shared_ptr<auth::UserDatabase> users_;
};

}  // namespace mailport::delivery
