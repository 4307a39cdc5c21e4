#include <utility>

#include "auth/internal.h"
#include "auth/passwd_file.h"
#include "util/log.h"

namespace mailport::auth {

UserDatabase::UserDatabase(std::filesystem::path path)
    : path_(std::move(path)) {}

// REQUIRES: mutex_ is held.
Status UserDatabase::ReloadIfChanged() {
  Result<PasswdFile::Stamp> stamp = PasswdFile::StatFile(path_);
  if (!stamp) {
    if (!snapshot_) snapshot_ = std::make_shared<PasswdFile>();
    return stamp.error();
  }
  if (loaded_ && *stamp == stamp_) return last_error_;

  Result<PasswdFile> file = PasswdFile::Load(path_);
  loaded_ = true;
  if (!file) {
    // Remember the stamp so that a broken file is reported once, not on
    // every lookup; the next edit triggers another attempt.
    stamp_ = *stamp;
    last_error_ = file.error();
    if (!snapshot_) snapshot_ = std::make_shared<PasswdFile>();
    log::Error("passwd-file {} not loaded, keeping {} users: {}",
               path_.string(), snapshot_->users().size(), file.error().message);
    return last_error_;
  }

  stamp_ = file->stamp();
  last_error_ = Status::Ok();
  for (const std::string& warning : file->warnings()) {
    log::Warn("{}", warning);
  }
  log::Info("passwd-file {} loaded: {} users", path_.string(),
            file->users().size());
  snapshot_ = std::make_shared<const PasswdFile>(std::move(file).value());
  return last_error_;
}

std::shared_ptr<const PasswdFile> UserDatabase::Snapshot() {
  std::lock_guard lock(mutex_);
  (void)ReloadIfChanged();
  return snapshot_;
}

bool UserDatabase::Verify(std::string_view name, std::string_view password) {
  std::shared_ptr<const PasswdFile> snapshot = Snapshot();
  std::optional<User> user = snapshot->Find(name);
  if (!user ||
      ClassifyHash(user->password_hash).status != HashStatus::kUsable) {
    VerifyDummy(password);
    return false;
  }
  return VerifyPassword(user->password_hash, password);
}

std::optional<User> UserDatabase::Find(std::string_view name) {
  return Snapshot()->Find(name);
}

std::optional<User> UserDatabase::FindRecipient(std::string_view local_part,
                                                std::string_view domain) {
  return Snapshot()->FindRecipient(local_part, domain);
}

Status UserDatabase::Reload() {
  std::lock_guard lock(mutex_);
  return ReloadIfChanged();
}

std::vector<std::string> UserDatabase::warnings() {
  return Snapshot()->warnings();
}

}  // namespace mailport::auth
