#include <gtest/gtest.h>

#include "acme/acme_codec.hpp"

namespace porthole::acme {
namespace {

TEST(AcmeCodec, Directory) {
  auto d = parse_directory(R"({"newNonce":"https://ca/nonce","newAccount":"https://ca/acct","newOrder":"https://ca/order",
    "revokeCert":"https://ca/revoke","meta":{"termsOfService":"https://ca/tos"}})");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->new_nonce, "https://ca/nonce");
  EXPECT_EQ(d->new_account, "https://ca/acct");
  EXPECT_EQ(d->new_order, "https://ca/order");
  EXPECT_EQ(d->terms_of_service, "https://ca/tos");
  EXPECT_FALSE(parse_directory(R"({"newNonce":"http://ca/nonce","newAccount":"https://a","newOrder":"https://o"})"));
  EXPECT_FALSE(parse_directory("[]"));
  EXPECT_FALSE(parse_directory("{"));
  EXPECT_FALSE(parse_directory(R"({"newNonce":1})"));
}

TEST(AcmeCodec, ProblemWithSubproblems) {
  auto p = parse_problem(R"({"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"Error creating new order",
    "status":400,"subproblems":[{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"policy forbids",
    "identifier":{"type":"dns","value":"blocked.example"}}, 7]})");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->is("rejectedIdentifier"));
  EXPECT_EQ(p->status, 400);
  ASSERT_EQ(p->subproblems.size(), 1u);
  EXPECT_EQ(p->subproblems[0].identifier, "blocked.example");
  EXPECT_EQ(p->summary(), "rejectedIdentifier: Error creating new order (blocked.example: policy forbids)");
  auto bare = parse_problem(R"({"status":"x"})");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->type, "about:blank");
  EXPECT_EQ(bare->status, 0);
}

TEST(AcmeCodec, OrderAndAuthorization) {
  auto o = parse_order(R"({"status":"pending","identifiers":[{"type":"dns","value":"a.example"}],
    "authorizations":["https://ca/authz/1", 3, "http://plain"],"finalize":"https://ca/finalize/1"})");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->status, "pending");
  EXPECT_EQ(o->authorizations, std::vector<std::string>{"https://ca/authz/1"});
  EXPECT_EQ(o->identifiers, std::vector<std::string>{"a.example"});
  EXPECT_FALSE(parse_order(R"({"status":"valid","certificate":"ftp://x"})"));
  EXPECT_FALSE(parse_order(R"({"finalize":"https://x"})"));

  auto a = parse_authorization(R"({"status":"invalid","identifier":{"type":"dns","value":"a.example"},
    "challenges":[{"type":"http-01","url":"https://ca/chal/1","token":"tok","status":"invalid",
    "error":{"type":"urn:ietf:params:acme:error:connection","detail":"refused"}}]})");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->identifier, "a.example");
  ASSERT_TRUE(a->error);
  EXPECT_TRUE(a->error->is("connection"));
}

TEST(AcmeCodec, Tokens) {
  EXPECT_TRUE(valid_token("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"));
  EXPECT_FALSE(valid_token("short"));
  EXPECT_FALSE(valid_token("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ/../../etc"));
  EXPECT_FALSE(valid_token(std::string(300, 'a')));
}

TEST(AcmeCodec, RetryAfter) {
  EXPECT_EQ(parse_retry_after("120", 0), std::chrono::seconds(120));
  EXPECT_EQ(parse_retry_after(" 5 ", 0), std::chrono::seconds(5));
  // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30), std::chrono::seconds(30));
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 30), std::chrono::seconds(0));
  EXPECT_FALSE(parse_retry_after("", 0));
  EXPECT_FALSE(parse_retry_after("soon", 0));
  EXPECT_FALSE(parse_retry_after("-5", 0));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", 0));
}

TEST(AcmeCodec, PemChain) {
  auto c = split_pem_chain("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"
                           "-----BEGIN CERTIFICATE-----\nBB==\n-----END CERTIFICATE-----\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->size(), 2u);
  EXPECT_FALSE(split_pem_chain("nothing"));
  EXPECT_FALSE(split_pem_chain("-----BEGIN CERTIFICATE-----\nAA=="));
}

}  // namespace
}  // namespace porthole::acme
