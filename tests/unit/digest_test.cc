#include <gtest/gtest.h>

#include "digest/digest.h"

using namespace distill;

TEST(Digest, KnownVectors) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(sha256_of("").hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_of("abc").hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // The OCI empty descriptor's digest (manifest.md).
  EXPECT_EQ(sha256_of("{}").str(), "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
}

TEST(Digest, StreamingEqualsOneShot) {
  Sha256 h;
  h.update("a");
  h.update("bc");
  EXPECT_EQ(h.finish(), sha256_of("abc"));
}

TEST(Digest, ParseRejectsMalformed) {
  EXPECT_NO_THROW(Digest::parse("sha256:" + std::string(64, 'a')));
  EXPECT_THROW(Digest::parse("sha256:" + std::string(64, 'A')), std::exception);
  EXPECT_THROW(Digest::parse("sha256:" + std::string(63, 'a')), std::exception);
  EXPECT_THROW(Digest::parse("md5:abc"), std::exception);
}
