#pragma once
#include <openssl/evp.h>

#include <string>
#include <string_view>

namespace distill {

/// A content digest written "sha256:<64 lower-case hex>" as OCI requires.
struct Digest {
  std::string hex;  // 64 lower-case hex characters

  std::string str() const { return "sha256:" + hex; }
  bool empty() const { return hex.empty(); }
  auto operator<=>(const Digest&) const = default;

  /// Parses "sha256:<hex>"; throws Error naming `what` when malformed.
  static Digest parse(std::string_view text, std::string_view what = "digest");
  static bool valid(std::string_view text);
};

/// Streaming SHA-256 (OpenSSL EVP).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  Digest finish();

 private:
  EVP_MD_CTX* m_ctx;
};

Digest sha256_of(std::string_view data);

/// Bytes as lower-case hex, two digits each.
std::string hex_encode(std::string_view bytes);

}  // namespace distill
