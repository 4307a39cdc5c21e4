// Session ticket keys with rotation (RFC 5077 tickets in TLS 1.2, RFC 8446
// section 4.6.1 tickets in TLS 1.3).
//
// A TicketKeys object contains the current key, which encrypts new tickets, and
// up to `retained_keys` older keys, which still decrypt tickets issued under
// them.  A ticket decrypted with an older key is renewed: OpenSSL issues a
// fresh ticket under the current key.  Each key is 16 bytes of name, a
// 32-byte AES-256-CBC key and a 32-byte HMAC-SHA256 key, all from
// RAND_bytes; the layout of the ticket itself (name, IV, ciphertext, MAC)
// is OpenSSL's.
//
// Rotation is lazy: the first use after `rotation_period` has passed since
// the current key was made creates a new current key and retires keys
// beyond `retained_keys`.  A ticket therefore decrypts for at least
// `rotation_period` and at most (retained_keys + 1) * rotation_period after
// it was issued.
//
// Keys live only in memory, so tickets do not survive a restart: clients
// then fall back to the session cache or to a full handshake.
//
// Thread safety: all methods may be called concurrently; a mutex guards the
// key list and is held only while a key is copied or the list rotates.
#pragma once

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

#include "tls/clock.h"

namespace mailport::tls {

class TicketKeys {
 public:
  TicketKeys(std::chrono::seconds rotation_period, int retained_keys = 1,
             Clock clock = SystemClock());

  // Installs the ticket callback on `context`; `this` must outlive every
  // handshake on it, or the caller must call Uninstall() first.
  void Install(SSL_CTX* context);
  static void Uninstall(SSL_CTX* context);

  // Implements SSL_CTX_set_tlsext_ticket_key_evp_cb.  To encrypt, it fills
  // `key_name` and `iv`, keys both contexts with the current key and
  // returns 1 (-1 on error).  To decrypt, it looks `key_name` up and
  // returns 1 for the current key, 2 for an older one (renew the ticket),
  // 0 for an unknown or retired key (full handshake), or -1 on error.
  int HandleTicket(unsigned char key_name[16], unsigned char* iv,
                   EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, bool encrypt);

  // Creates a new current key now, whatever its age.
  void Rotate();

  // Number of keys that decrypt tickets, the current one included.
  std::size_t key_count() const;

 private:
  struct Key {
    std::array<unsigned char, 16> name;
    std::array<unsigned char, 32> aes_key;
    std::array<unsigned char, 32> hmac_key;
    std::chrono::system_clock::time_point created;
  };

  std::optional<Key> MakeKey() const;
  void PushKeyLocked(const Key& key);
  void RotateIfDueLocked();
  static bool KeyContexts(const Key& key, const unsigned char* iv,
                          EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                          bool encrypt);

  const std::chrono::seconds rotation_period_;
  const std::size_t retained_keys_;
  const Clock clock_;

  mutable std::mutex mutex_;
  // front() is the current key.  Empty only while RAND_bytes keeps
  // failing, and then no tickets are issued.  Guarded by mutex_.
  std::deque<Key> keys_;
};

}  // namespace mailport::tls
