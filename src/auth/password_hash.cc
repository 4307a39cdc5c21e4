// crypt(3) hashing and verification through libxcrypt.
//
// Every call uses its own struct crypt_data, so hashing is thread-safe, and
// the buffers that held password material are wiped before they are freed.

#include <crypt.h>
#include <string.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <memory>
#include <string>
#include <string_view>

#include "auth/internal.h"
#include "auth/passwd_file.h"
#include "util/fs.h"

namespace mailport::auth {
namespace {

static_assert(kMaxPasswordLength < CRYPT_MAX_PASSPHRASE_SIZE,
              "crypt(3) rejects longer passwords");

struct BareScheme {
  std::string_view prefix;
  std::string_view name;
  HashStatus status;
};

// Identifiers of crypt(3) hashes, longest match first where they overlap.
constexpr std::array<BareScheme, 11> kBareSchemes{{
    {"$y$", "yescrypt", HashStatus::kUsable},
    {"$2b$", "bcrypt", HashStatus::kUsable},
    {"$2a$", "bcrypt", HashStatus::kUsable},
    {"$2y$", "bcrypt", HashStatus::kUsable},
    {"$6$", "sha512-crypt", HashStatus::kUsable},
    {"$5$", "sha256-crypt", HashStatus::kUsable},
    // $2x$ marks hashes made by the bcrypt implementation with the
    // sign-extension bug; libxcrypt keeps it only for compatibility.
    {"$2x$", "bcrypt with the $2x$ compatibility prefix", HashStatus::kWeak},
    {"$1$", "MD5-crypt", HashStatus::kWeak},
    {"$md5", "Sun MD5-crypt", HashStatus::kWeak},
    {"$3$", "NT hash", HashStatus::kWeak},
    {"$sha1$", "SHA1-crypt", HashStatus::kWeak},
}};

// Dovecot schemes that are plain text, unsalted or based on DES or MD5.
constexpr std::array<std::string_view, 24> kWeakDovecotSchemes{
    "MD5-CRYPT",  "DES-CRYPT", "PLAIN",    "CLEAR",  "CLEARTEXT", "PLAIN-TRUNC",
    "PLAIN-MD4",  "PLAIN-MD5", "LDAP-MD5", "MD5",    "SMD5",      "SHA",
    "SSHA",       "SHA256",    "SSHA256",  "SHA512", "SSHA512",   "CRAM-MD5",
    "DIGEST-MD5", "NTLM",      "LANMAN",   "RPA",    "SKEY",      "OTP",
};

// Yescrypt hash of a random password that was thrown away, so that it
// matches nothing.  Verify() runs crypt(3) against it when the user does
// not exist or cannot log in.
constexpr char kDummyHash[] =
    "$y$j9T$Pq6oroq/XCGj6Mdk4bbdG1$iI5T2x4y47m1P2GwfHB0NIxuORnUfKbezueamnkWEY8";

std::string ToUpper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

bool IsCryptAlphabet(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '/';
}

bool IsTraditionalDes(std::string_view hash) {
  if (hash.size() != 13) return false;
  for (char c : hash) {
    if (!IsCryptAlphabet(c)) return false;
  }
  return true;
}

HashInfo ClassifyBare(std::string_view hash) {
  if (hash.empty()) return {HashStatus::kEmpty, "empty", ""};
  // "*" and "!" are how passwd(5) and usermod -L lock an account, and
  // crypt(3) itself returns a string starting with '*' on failure.
  if (hash.front() == '*' || hash.front() == '!') {
    return {HashStatus::kLocked, "locked", ""};
  }
  for (const BareScheme& scheme : kBareSchemes) {
    if (!hash.starts_with(scheme.prefix)) continue;
    if (scheme.status != HashStatus::kUsable) {
      return {scheme.status, std::string(scheme.name), ""};
    }
    std::string copy(hash);
    // libxcrypt reports sha256-crypt as a legacy method; the table above,
    // not crypt_checksalt, decides which schemes are weak.
    if (crypt_checksalt(copy.c_str()) == CRYPT_SALT_INVALID) {
      return {HashStatus::kUnknown, "malformed " + std::string(scheme.name),
              ""};
    }
    return {HashStatus::kUsable, std::string(scheme.name), std::move(copy)};
  }
  if (hash.front() == '_') return {HashStatus::kWeak, "BSDi extended DES", ""};
  if (IsTraditionalDes(hash)) return {HashStatus::kWeak, "DES-crypt", ""};
  return {HashStatus::kUnknown, "unrecognized", ""};
}

// Returns the bare scheme name that a Dovecot prefix requires, or empty for
// {CRYPT}, which allows any crypt(3) hash.
std::string_view RequiredBareScheme(std::string_view dovecot_scheme) {
  if (dovecot_scheme == "SHA512-CRYPT") return "sha512-crypt";
  if (dovecot_scheme == "SHA256-CRYPT") return "sha256-crypt";
  if (dovecot_scheme == "BLF-CRYPT") return "bcrypt";
  if (dovecot_scheme == "YESCRYPT") return "yescrypt";
  return "";
}

bool IsKnownDovecotCryptScheme(std::string_view dovecot_scheme) {
  return dovecot_scheme == "CRYPT" ||
         !RequiredBareScheme(dovecot_scheme).empty();
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // The length of a crypt(3) result follows from its scheme, which is
  // stored in the clear, so only the contents need constant time.
  if (a.size() != b.size()) return false;
  volatile unsigned char difference = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    difference = difference | static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return difference == 0;
}

// Zeroes crypt_data on destruction, because it contains intermediate values
// derived from the password.
struct CryptDataDeleter {
  void operator()(crypt_data* data) const {
    explicit_bzero(data, sizeof *data);
    delete data;
  }
};
using CryptData = std::unique_ptr<crypt_data, CryptDataDeleter>;

// The crypt(3) result for `password` with `setting`, or empty on failure.
std::string RunCrypt(std::string_view password, const std::string& setting) {
  // Value-initialized, so crypt_data::initialized is 0 as crypt_rn needs;
  // the structure is about 32 KiB, too big for a coroutine's stack.
  CryptData data(new crypt_data());
  std::string phrase(password);
  const char* result =
      crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof *data);
  std::string out;
  if (result != nullptr && result[0] != '*') out = result;
  explicit_bzero(phrase.data(), phrase.size());
  return out;
}

}  // namespace

HashInfo ClassifyHash(std::string_view stored) {
  if (!stored.starts_with('{')) return ClassifyBare(stored);

  std::size_t close = stored.find('}');
  if (close == std::string_view::npos) {
    return {HashStatus::kUnknown, "unterminated scheme prefix", ""};
  }
  std::string dovecot_scheme = ToUpper(stored.substr(1, close - 1));
  std::string_view rest = stored.substr(close + 1);
  std::string label = "{" + dovecot_scheme + "}";

  for (std::string_view weak : kWeakDovecotSchemes) {
    if (dovecot_scheme == weak) return {HashStatus::kWeak, label, ""};
  }
  if (!IsKnownDovecotCryptScheme(dovecot_scheme)) {
    return {HashStatus::kUnknown, label, ""};
  }

  HashInfo bare = ClassifyBare(rest);
  std::string_view required = RequiredBareScheme(dovecot_scheme);
  if (bare.status == HashStatus::kUsable && !required.empty() &&
      bare.scheme != required) {
    return {HashStatus::kUnknown,
            label + " prefix on a " + bare.scheme + " hash", ""};
  }
  return bare;
}

Result<std::string> HashPassword(std::string_view password,
                                 std::string_view method) {
  if (Status valid = ValidatePassword(password); !valid) return valid.error();

  std::string name = ToUpper(method);
  const char* prefix = nullptr;
  unsigned long count = 0;  // 0 selects libxcrypt's default cost
  if (name == "YESCRYPT") {
    prefix = "$y$";
  } else if (name == "BCRYPT") {
    // libxcrypt's default bcrypt cost is 5, which is cheap for current
    // CPUs.  Cost 12 (2^12 key setup rounds) is a common choice for stored
    // passwords; `mkpasswd -m bcrypt -R 12` took about 0.2 s on a 2-core
    // x86-64 VM.
    prefix = "$2b$";
    count = 12;
  } else if (name == "SHA512-CRYPT" || name == "SHA512CRYPT") {
    prefix = "$6$";
  } else if (name == "SHA256-CRYPT" || name == "SHA256CRYPT") {
    prefix = "$5$";
  } else {
    return PermanentError("unsupported hash method \"" + std::string(method) +
                          "\"; use yescrypt, bcrypt, sha512-crypt or "
                          "sha256-crypt");
  }

  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  // Null random bytes make libxcrypt read them from the kernel itself.
  if (crypt_gensalt_rn(prefix, count, nullptr, 0, setting, sizeof setting) ==
      nullptr) {
    return TemporaryError("crypt_gensalt for " + std::string(method) +
                          " failed: " + fs::ErrnoText(errno));
  }
  std::string hash = RunCrypt(password, setting);
  if (hash.empty()) {
    return TemporaryError("crypt(3) with " + std::string(method) +
                          " failed: " + fs::ErrnoText(errno));
  }
  return hash;
}

bool VerifyPassword(std::string_view hash, std::string_view password) {
  if (password.empty() || password.size() > kMaxPasswordLength ||
      password.find('\0') != std::string_view::npos) {
    return false;
  }
  HashInfo info = ClassifyHash(hash);
  if (info.status != HashStatus::kUsable) return false;
  std::string computed = RunCrypt(password, info.crypt_hash);
  bool match =
      !computed.empty() && ConstantTimeEquals(computed, info.crypt_hash);
  explicit_bzero(computed.data(), computed.size());
  return match;
}

// Runs crypt(3) against the dummy hash to spend the time a real check of
// a yescrypt user takes.
void VerifyDummy(std::string_view password) {
  (void)VerifyPassword(kDummyHash, password);
}

}  // namespace mailport::auth
