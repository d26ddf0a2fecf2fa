#include <gtest/gtest.h>

#include "acme/manager.hpp"
#include "acme/sink.hpp"

namespace porthole::acme {
namespace {

using std::chrono::seconds;

TEST(AcmeManager, RenewalAtTwoThirds) {
  EXPECT_EQ(renewal_time(1000, 1000 + 90 * 86400), 1000 + 60 * 86400);
  EXPECT_EQ(renewal_time(0, 30), 20);
}

TEST(AcmeManager, TimesAreRfc3339Utc) { EXPECT_EQ(format_time(784111777), "1994-11-06T08:49:37Z"); }

TEST(AcmeManager, ExponentialBackoffHonoursRetryAfter) {
  EXPECT_EQ(retry_delay(1, seconds(60), seconds(3600), std::nullopt), seconds(60));
  EXPECT_EQ(retry_delay(2, seconds(60), seconds(3600), std::nullopt), seconds(120));
  EXPECT_EQ(retry_delay(4, seconds(60), seconds(3600), std::nullopt), seconds(480));
  EXPECT_EQ(retry_delay(50, seconds(60), seconds(3600), std::nullopt), seconds(3600));
  EXPECT_EQ(retry_delay(1, seconds(60), seconds(3600), seconds(7200)), seconds(7200));
  EXPECT_EQ(retry_delay(3, seconds(60), seconds(3600), seconds(10)), seconds(240));
}

TEST(AcmeManager, EligibleNamesAndWhenAcmeIsOn) {
  EXPECT_TRUE(eligible_name("app.example.com"));
  EXPECT_FALSE(eligible_name("*.example.com"));
  EXPECT_FALSE(eligible_name("localhost"));
  EXPECT_FALSE(eligible_name("calm-otter-42.localhost"));
  EXPECT_FALSE(eligible_name("10.0.0.1"));
  EXPECT_FALSE(eligible_name("intranet"));
  EXPECT_EQ(effective_directory("", "localhost"), "");
  EXPECT_EQ(effective_directory("", "tunnels.example.com"), kLetsEncrypt);
  EXPECT_EQ(effective_directory("off", "tunnels.example.com"), "");
  EXPECT_EQ(effective_directory("https://127.0.0.1:14000/dir", "localhost"), "https://127.0.0.1:14000/dir");
}

TEST(AcmeManager, Http01BoardAnswersPendingTokensOnly) {
  Http01Board b;
  b.provide("tok123", "tok123.thumb");
  auto r = b.response_for("GET", "/.well-known/acme-challenge/tok123");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_NE(r->find("Content-Length: 12\r\n"), std::string::npos);
  EXPECT_TRUE(r->ends_with("\r\n\r\ntok123.thumb"));
  auto head = b.response_for("HEAD", "/.well-known/acme-challenge/tok123");
  ASSERT_TRUE(head);
  EXPECT_TRUE(head->ends_with("\r\n\r\n"));
  EXPECT_FALSE(b.response_for("POST", "/.well-known/acme-challenge/tok123"));
  EXPECT_FALSE(b.response_for("GET", "/.well-known/acme-challenge/other"));
  EXPECT_FALSE(b.response_for("GET", "/.well-known/acme-challenge/tok123x"));
  EXPECT_FALSE(b.response_for("GET", "/tok123"));
  b.withdraw("tok123");
  EXPECT_FALSE(b.response_for("GET", "/.well-known/acme-challenge/tok123"));
}

}  // namespace
}  // namespace porthole::acme
