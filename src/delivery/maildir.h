// Local delivery into Maildir, as maildir(5) and qmail define it.
//
// A message is written to DIR/tmp/UNIQUE, fsynced, renamed to DIR/new/UNIQUE
// and DIR/new is fsynced, so a delivered message is on disk before the queue
// forgets it.  The unique name is TIME.MmicrosecondsPpidQcounter.HOST,
// S=size.  Return-Path and Delivered-To headers are prepended.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "auth/passwd_file.h"
#include "config/settings.h"
#include "queue/queue_manager.h"

namespace mailport::delivery {

// Writes one message into the Maildir `directory` (creating cur, new, tmp
// as needed).  Returns the path of the delivered file.
Result<std::filesystem::path> DeliverToMaildir(
    const std::filesystem::path& directory, std::string_view prefix_headers,
    std::string_view content, const std::string& hostname);

// Transport for recipients whose domain is in mydestination: the local part
// (or full address) must be a user of the passwd-file, and the mailbox is
// HOME/home_mailbox, or mailbox_base/USER/home_mailbox when the user has no
// home field.  home_mailbox must end in '/' (Maildir); mbox is not
// supported.
class MaildirTransport : public queue::Transport {
 public:
  MaildirTransport(const config::GlobalSettings& settings,
                   std::shared_ptr<auth::UserDatabase> users);

  queue::DeliveryOutcome Deliver(const queue::Envelope& envelope,
                                 const std::string& recipient,
                                 std::string_view content) override;

  // Returns the Maildir directory for `recipient`, or an error when the
  // recipient is not a local user (permanent) or the database failed.
  Result<std::filesystem::path> MailboxFor(std::string_view recipient);

 private:
  const config::GlobalSettings& settings_;
  std::shared_ptr<auth::UserDatabase> users_;
};

}  // namespace mailport::delivery
