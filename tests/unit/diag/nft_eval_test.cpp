#include "diag/nft_eval.hpp"

#include <gtest/gtest.h>

namespace porthole::diag {
namespace {

// `nft -j list ruleset` of a typical input chain (captured from nft 1.0.6).
constexpr const char* kRuleset =
    R"({"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
{"table": {"family": "inet", "name": "filter", "handle": 1}},
{"set": {"family": "inet", "name": "blocked", "table": "filter", "type": "inet_service", "handle": 3, "elem": [3389, 5900]}},
{"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
{"chain": {"family": "inet", "table": "filter", "name": "sub", "handle": 2}},
{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 5, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 7, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [22, 80]}}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 8, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"range": [8000, 8010]}}}, {"drop": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 9, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "@blocked"}}, {"reject": {"type": "icmpx", "expr": "port-unreachable"}}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 10, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 9000}}, {"drop": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 11, "expr": [{"jump": {"target": "sub"}}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "sub", "handle": 12, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 25565}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}]})";

FirewallFact eval(const std::string& json, std::uint16_t port) {
  auto r = evaluate_nft_ruleset(json, port);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? *r : FirewallFact{};
}

TEST(NftEval, AcceptedBySet) {
  auto f = eval(kRuleset, 22);
  EXPECT_EQ(f.verdict, FirewallVerdict::open);
  EXPECT_NE(f.where.find("handle 7"), std::string::npos);
}

TEST(NftEval, DroppedByRange) {
  auto f = eval(kRuleset, 8005);
  EXPECT_EQ(f.verdict, FirewallVerdict::blocked);
  EXPECT_EQ(f.where, "table inet filter chain input");
  EXPECT_NE(f.rule.find("handle 8"), std::string::npos);
}

TEST(NftEval, RejectedByNamedSet) {
  EXPECT_EQ(eval(kRuleset, 3389).verdict, FirewallVerdict::blocked);
  EXPECT_EQ(eval(kRuleset, 5900).verdict, FirewallVerdict::blocked);
}

TEST(NftEval, SourceAddressMatchIsOnlyMaybe) {
  auto f = eval(kRuleset, 9000);
  EXPECT_EQ(f.verdict, FirewallVerdict::maybe_blocked);
  EXPECT_NE(f.rule.find("handle 10"), std::string::npos);
}

TEST(NftEval, DroppedInJumpedChain) {
  auto f = eval(kRuleset, 25565);
  EXPECT_EQ(f.verdict, FirewallVerdict::blocked);
  EXPECT_EQ(f.where, "table inet filter chain sub");
}

TEST(NftEval, OtherPortsPass) {
  EXPECT_EQ(eval(kRuleset, 4242).verdict, FirewallVerdict::open);
}

TEST(NftEval, PolicyDrop) {
  const std::string rs = R"({"nftables":[
    {"chain":{"family":"ip","table":"fw","name":"in","type":"filter","hook":"input","prio":0,"policy":"drop"}},
    {"rule":{"family":"ip","table":"fw","chain":"in","handle":2,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":22}},{"accept":null}]}},
    {"rule":{"family":"ip","table":"fw","chain":"in","handle":3,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"udp","field":"dport"}},"right":8080}},{"accept":null}]}}]})";
  EXPECT_EQ(eval(rs, 22).verdict, FirewallVerdict::open);
  auto f = eval(rs, 8080);
  EXPECT_EQ(f.verdict, FirewallVerdict::blocked);
  EXPECT_TRUE(f.rule.empty());
  EXPECT_EQ(f.where, "table ip fw chain in");
}

TEST(NftEval, MaybeAcceptThenPolicyDropIsMaybe) {
  const std::string rs = R"({"nftables":[
    {"chain":{"family":"inet","table":"t","name":"in","type":"filter","hook":"input","prio":0,"policy":"drop"}},
    {"rule":{"family":"inet","table":"t","chain":"in","handle":2,"expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"eth0"}},{"accept":null}]}}]})";
  EXPECT_EQ(eval(rs, 80).verdict, FirewallVerdict::maybe_blocked);
}

TEST(NftEval, NegationAndThDport) {
  const std::string rs = R"({"nftables":[
    {"chain":{"family":"inet","table":"t","name":"in","type":"filter","hook":"input","prio":0,"policy":"accept"}},
    {"rule":{"family":"inet","table":"t","chain":"in","handle":2,"expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"th","field":"dport"}},"right":{"set":[22,443]}}},{"drop":null}]}}]})";
  EXPECT_EQ(eval(rs, 22).verdict, FirewallVerdict::open);
  EXPECT_EQ(eval(rs, 8080).verdict, FirewallVerdict::blocked);
}

TEST(NftEval, LaterBaseChainDropsAfterEarlierAccept) {
  const std::string rs = R"({"nftables":[
    {"chain":{"family":"inet","table":"a","name":"in","type":"filter","hook":"input","prio":0,"policy":"accept"}},
    {"chain":{"family":"ip","table":"b","name":"in","type":"filter","hook":"input","prio":10,"policy":"drop"}},
    {"chain":{"family":"ip6","table":"c","name":"in","type":"filter","hook":"input","prio":-5,"policy":"drop"}},
    {"rule":{"family":"inet","table":"a","chain":"in","handle":2,"expr":[{"accept":null}]}}]})";
  EXPECT_EQ(eval(rs, 22).verdict, FirewallVerdict::blocked);
}

TEST(NftEval, XtRulesAreMaybe) {
  const std::string rs = R"({"nftables":[
    {"chain":{"family":"ip","table":"filter","name":"INPUT","type":"filter","hook":"input","prio":0,"policy":"accept"}},
    {"rule":{"family":"ip","table":"filter","chain":"INPUT","handle":2,"expr":[{"xt":{"type":"match","name":"conntrack"}},{"drop":null}]}}]})";
  EXPECT_EQ(eval(rs, 22).verdict, FirewallVerdict::maybe_blocked);
}

TEST(NftEval, EmptyAndBrokenInput) {
  auto f = eval(R"({"nftables":[]})", 22);
  EXPECT_EQ(f.verdict, FirewallVerdict::open);
  EXPECT_NE(f.where.find("no nftables input chain"), std::string::npos);
  EXPECT_FALSE(evaluate_nft_ruleset("not json", 22));
  EXPECT_FALSE(evaluate_nft_ruleset(R"({"nftables":3})", 22));
  // Hostile shapes never crash: wrong types everywhere, jump loops.
  const std::string weird = R"({"nftables":[1,"x",{"chain":5},{"rule":{"expr":7}},
    {"chain":{"family":"inet","table":"t","name":"in","type":"filter","hook":"input","prio":"x","policy":"accept"}},
    {"rule":{"family":"inet","table":"t","chain":"in","expr":[1,{},{"match":{"left":3,"right":{"range":[1]}}},{"jump":{"target":"in"}}]}},
    {"rule":{"family":"inet","table":"t","chain":"in","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":{"set":[{"elem":{}}]}}},{"drop":null}]}}]})";
  EXPECT_TRUE(evaluate_nft_ruleset(weird, 22));
}

}  // namespace
}  // namespace porthole::diag
