#include "proto/auth.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "core/encoding.hpp"

namespace porthole::proto {
namespace {

std::vector<std::uint8_t> bytes(std::uint8_t fill, std::size_t n = 32) {
  return std::vector<std::uint8_t>(n, fill);
}

TEST(Auth, TokenIdIsSixteenHexAndStable) {
  auto id = token_id("ph_secret");
  EXPECT_EQ(id.size(), kTokenIdLength);
  EXPECT_TRUE(is_token_id(id));
  EXPECT_EQ(id, token_id("ph_secret"));
  EXPECT_NE(id, token_id("ph_secreT"));
}

TEST(Auth, KnownAnswers) {
  // SHA-256("porthole-token-id\0" "abc") and SHA-256("porthole-token-key\0" "abc"), computed with
  // `printf 'porthole-token-id\0abc' | sha256sum`.
  EXPECT_EQ(token_id("abc"), "fa53807311f0adc2");
  EXPECT_EQ(encoding::hex_encode(token_key("abc")),
            "5ce9f3d3843ca150372ebc7b735283b069a9f25314d72af2e0f2848e94511a87");
}

TEST(Auth, ProofKnownAnswer) {
  // python3: hmac.new(sha256(b"porthole-token-key\0abc").digest(), b"porthole-auth-v1" + bytes(range(32)),
  // sha256)
  std::vector<std::uint8_t> binding(32);
  for (std::size_t i = 0; i < binding.size(); ++i) binding[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(encoding::hex_encode(auth_proof(token_key("abc"), binding)),
            "df94cb2efcd211c5ca65d400eb8d3929e9d50a87f52a1648ceb5c2df4c1cc171");
}

TEST(Auth, IdAndKeyAreDomainSeparated) {
  auto key = token_key("ph_x");
  EXPECT_NE(encoding::hex_encode(key).substr(0, 16), token_id("ph_x"));
}

TEST(Auth, ProofVerifies) {
  auto key = token_key("ph_token");
  auto binding = bytes(7);
  auto proof = auth_proof(key, binding);
  EXPECT_TRUE(verify_proof(key, binding, proof));
}

TEST(Auth, ProofFromOtherTokenIsRejected) {
  auto binding = bytes(7);
  auto forged = auth_proof(token_key("ph_attacker"), binding);
  EXPECT_FALSE(verify_proof(token_key("ph_token"), binding, forged));
}

TEST(Auth, ReplayOnAnotherChannelIsRejected) {
  auto key = token_key("ph_token");
  auto proof = auth_proof(key, bytes(1));
  EXPECT_FALSE(verify_proof(key, bytes(2), proof));
  auto other = bytes(1);
  other.back() ^= 1;
  EXPECT_FALSE(verify_proof(key, other, proof));
}

TEST(Auth, WrongLengthsAreRejected) {
  auto key = token_key("ph_token");
  auto binding = bytes(9);
  auto proof = auth_proof(key, binding);
  std::vector<std::uint8_t> v(proof.begin(), proof.end());
  EXPECT_FALSE(verify_proof(key, binding, std::span<const std::uint8_t>(v.data(), 31)));
  v.push_back(0);
  EXPECT_FALSE(verify_proof(key, binding, v));
  EXPECT_FALSE(verify_proof(key, binding, std::span<const std::uint8_t>()));
}

TEST(Auth, FlippingAnyProofBitFails) {
  auto key = token_key("ph_token");
  auto binding = bytes(3);
  auto proof = auth_proof(key, binding);
  for (std::size_t i = 0; i < proof.size() * 8; ++i) {
    auto p = proof;
    p[i / 8] ^= static_cast<std::uint8_t>(1u << (i % 8));
    ASSERT_FALSE(verify_proof(key, binding, p)) << "bit " << i;
  }
}

TEST(Auth, GeneratedTokensAreUrlSafeAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto t = generate_token();
    ASSERT_EQ(t.size(), 3u + 43u);
    ASSERT_TRUE(t.starts_with("ph_"));
    for (char c : t.substr(3)) {
      ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << t;
    }
    auto raw = encoding::base64url_decode(t.substr(3));
    ASSERT_TRUE(raw);
    ASSERT_EQ(raw->size(), 32u);
    ASSERT_TRUE(seen.insert(t).second);
  }
}

TEST(Auth, IsTokenId) {
  EXPECT_TRUE(is_token_id("0123456789abcdef"));
  EXPECT_FALSE(is_token_id("0123456789ABCDEF"));
  EXPECT_FALSE(is_token_id("0123456789abcde"));
  EXPECT_FALSE(is_token_id("0123456789abcdeg"));
}

}  // namespace
}  // namespace porthole::proto
