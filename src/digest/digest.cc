#include "digest/digest.h"

#include "base/error.h"

namespace distill {

bool Digest::valid(std::string_view text) {
  if (text.size() != 71 || text.substr(0, 7) != "sha256:") return false;
  for (char c : text.substr(7))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Digest Digest::parse(std::string_view text, std::string_view what) {
  if (!valid(text))
    throw Error(std::string(what) + ": \"" + std::string(text.substr(0, 100)) +
                "\" is not a sha256 digest (sha256:<64 lower-case hex digits>)");
  return Digest{std::string(text.substr(7))};
}

Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()) {
  if (!m_ctx || EVP_DigestInit_ex(m_ctx, EVP_sha256(), nullptr) != 1) throw Error("OpenSSL: cannot start SHA-256");
}

Sha256::~Sha256() { EVP_MD_CTX_free(m_ctx); }

void Sha256::update(std::string_view data) {
  if (!data.empty()) EVP_DigestUpdate(m_ctx, data.data(), data.size());
}

Digest Sha256::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(m_ctx, md, &len);
  Digest d;
  d.hex = hex_encode(std::string_view(reinterpret_cast<const char*>(md), len));
  EVP_DigestInit_ex(m_ctx, EVP_sha256(), nullptr);
  return d;
}

Digest sha256_of(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

std::string hex_encode(std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = digits[c >> 4];
    out[2 * i + 1] = digits[c & 15];
  }
  return out;
}

}  // namespace distill
