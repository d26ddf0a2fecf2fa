#include "core/encoding.hpp"

#include <gtest/gtest.h>

namespace porthole::encoding {
namespace {

std::vector<std::uint8_t> b(std::string_view s) {
  return std::vector<std::uint8_t>(s.begin(), s.end());
}

TEST(Encoding, HexRoundTrip) {
  std::vector<std::uint8_t> v{0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(hex_encode(v), "0001abff");
  auto d = hex_decode("0001ABff");
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, v);
  EXPECT_FALSE(hex_decode("abc"));
  EXPECT_FALSE(hex_decode("zz"));
  EXPECT_TRUE(hex_decode("")->empty());
}

TEST(Encoding, Base64UrlRfc4648Vectors) {
  // RFC 4648 §10 test vectors, without padding.
  EXPECT_EQ(base64url_encode(b("")), "");
  EXPECT_EQ(base64url_encode(b("f")), "Zg");
  EXPECT_EQ(base64url_encode(b("fo")), "Zm8");
  EXPECT_EQ(base64url_encode(b("foo")), "Zm9v");
  EXPECT_EQ(base64url_encode(b("foob")), "Zm9vYg");
  EXPECT_EQ(base64url_encode(b("fooba")), "Zm9vYmE");
  EXPECT_EQ(base64url_encode(b("foobar")), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode(std::vector<std::uint8_t>{0xfb, 0xff}), "-_8");
  for (std::string_view s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto d = base64url_decode(base64url_encode(b(s)));
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, b(s));
  }
  EXPECT_EQ(*base64url_decode("Zg=="), b("f"));
}

TEST(Encoding, Base64UrlRejectsBadInput) {
  EXPECT_FALSE(base64url_decode("Z"));      // impossible length
  EXPECT_FALSE(base64url_decode("Zm9+"));   // standard alphabet, not url-safe
  EXPECT_FALSE(base64url_decode("Zh"));     // non-zero trailing bits
  EXPECT_FALSE(base64url_decode("Zm 9v"));  // space
}

TEST(Encoding, Fingerprints) {
  const std::string hex(64, 'a');
  EXPECT_EQ(*normalize_sha256_fingerprint(hex), hex);
  EXPECT_EQ(*normalize_sha256_fingerprint("SHA256:" + std::string(64, 'A')), hex);
  EXPECT_EQ(*normalize_sha256_fingerprint("sha256:" + hex), hex);
  std::string colons;
  for (int i = 0; i < 32; ++i) colons += (i ? ":" : "") + std::string("AA");
  EXPECT_EQ(*normalize_sha256_fingerprint(colons), hex);
  EXPECT_FALSE(normalize_sha256_fingerprint(std::string(63, 'a')));
  EXPECT_FALSE(normalize_sha256_fingerprint(std::string(65, 'a')));
  EXPECT_FALSE(normalize_sha256_fingerprint(std::string(63, 'a') + "g"));
  EXPECT_FALSE(normalize_sha256_fingerprint("SHA1:" + hex));
  EXPECT_FALSE(normalize_sha256_fingerprint(""));
  EXPECT_EQ(display_fingerprint(hex), "SHA256:" + hex);
}

}  // namespace
}  // namespace porthole::encoding
