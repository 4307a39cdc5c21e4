#include "tls/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "util/log.h"

namespace mailport::tls {
namespace {

int TicketKeysIndex() {
  static const int index =
      SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int TicketCallback(SSL* ssl, unsigned char key_name[16], unsigned char* iv,
                   EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt) {
  auto* keys = static_cast<TicketKeys*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), TicketKeysIndex()));
  // Without keys (context being torn down) no ticket is issued or accepted.
  if (keys == nullptr) return 0;
  return keys->HandleTicket(key_name, iv, cipher, mac, encrypt != 0);
}

}  // namespace

TicketKeys::TicketKeys(std::chrono::seconds rotation_period, int retained_keys,
                       Clock clock)
    : rotation_period_(std::max(rotation_period, std::chrono::seconds(1))),
      retained_keys_(static_cast<std::size_t>(std::max(retained_keys, 0))),
      clock_(std::move(clock)) {
  if (std::optional<Key> key = MakeKey()) keys_.push_front(*key);
}

void TicketKeys::Install(SSL_CTX* context) {
  SSL_CTX_set_ex_data(context, TicketKeysIndex(), this);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(context, TicketCallback);
}

void TicketKeys::Uninstall(SSL_CTX* context) {
  SSL_CTX_set_ex_data(context, TicketKeysIndex(), nullptr);
}

std::optional<TicketKeys::Key> TicketKeys::MakeKey() const {
  Key key;
  if (RAND_bytes(key.name.data(), key.name.size()) != 1 ||
      RAND_bytes(key.aes_key.data(), key.aes_key.size()) != 1 ||
      RAND_bytes(key.hmac_key.data(), key.hmac_key.size()) != 1) {
    log::Error("session ticket key generation failed: RAND_bytes error");
    return std::nullopt;
  }
  key.created = clock_();
  return key;
}

void TicketKeys::PushKeyLocked(const Key& key) {
  keys_.push_front(key);
  while (keys_.size() > retained_keys_ + 1) keys_.pop_back();
}

void TicketKeys::RotateIfDueLocked() {
  if (!keys_.empty() && clock_() - keys_.front().created < rotation_period_) {
    return;
  }
  // A failed generation keeps the old keys: the current key then serves
  // longer than the period, which is better than issuing no tickets.
  if (std::optional<Key> key = MakeKey()) PushKeyLocked(*key);
}

void TicketKeys::Rotate() {
  std::optional<Key> key = MakeKey();
  if (!key) return;
  std::lock_guard lock(mutex_);
  PushKeyLocked(*key);
}

std::size_t TicketKeys::key_count() const {
  std::lock_guard lock(mutex_);
  return keys_.size();
}

bool TicketKeys::KeyContexts(const Key& key, const unsigned char* iv,
                             EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                             bool encrypt) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(
          OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key.hmac_key.data()),
          key.hmac_key.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return false;
  return EVP_CipherInit_ex(cipher, EVP_aes_256_cbc(), nullptr,
                           key.aes_key.data(), iv, encrypt ? 1 : 0) == 1;
}

int TicketKeys::HandleTicket(unsigned char key_name[16], unsigned char* iv,
                             EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                             bool encrypt) {
  Key key;
  bool is_current = false;
  {
    std::lock_guard lock(mutex_);
    RotateIfDueLocked();
    if (keys_.empty()) return 0;
    if (encrypt) {
      key = keys_.front();
      is_current = true;
    } else {
      auto found =
          std::find_if(keys_.begin(), keys_.end(), [&](const Key& candidate) {
            return std::memcmp(candidate.name.data(), key_name, 16) == 0;
          });
      if (found == keys_.end()) return 0;
      key = *found;
      is_current = found == keys_.begin();
    }
  }

  if (encrypt) {
    const int iv_length = EVP_CIPHER_get_iv_length(EVP_aes_256_cbc());
    if (RAND_bytes(iv, iv_length) != 1) return -1;
    std::memcpy(key_name, key.name.data(), 16);
  }
  if (!KeyContexts(key, iv, cipher, mac, encrypt)) return -1;
  if (encrypt) return 1;
  return is_current ? 1 : 2;
}

}  // namespace mailport::tls
