#!/usr/bin/env python3
"""`porthole token create|list|revoke` on a data dir: the secret is printed once, alone on
stdout, never stored or listed; exit codes 0/1/2; private file modes."""
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("PORTHOLE_BIN", os.path.join(os.path.dirname(__file__), "../../build/porthole"))


def run(*args):
    return subprocess.run([BIN, "token", *args], capture_output=True, text=True, timeout=30)


class TokenCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.data = os.path.join(self.tmp.name, "data")

    def tearDown(self):
        self.tmp.cleanup()

    def create(self, name, *extra):
        r = run("create", name, "--data", self.data, *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 1, r.stdout)
        self.assertRegex(lines[0], r"^ph_[A-Za-z0-9_-]{43}$")
        self.assertNotIn(lines[0], r.stderr)
        return lines[0]

    def test_create_list_revoke(self):
        token = self.create("laptop", "--allow-port", "20000-20010", "--allow-subdomain", "app-*")
        self.create("server")
        self.assertEqual(stat.S_IMODE(os.stat(self.data).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.data, "relay.db")).st_mode), 0o600)
        for name in os.listdir(self.data):
            with open(os.path.join(self.data, name), "rb") as f:
                self.assertNotIn(token.encode(), f.read(), name)

        r = run("list", "--data", self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(token, r.stdout)
        self.assertRegex(r.stdout, r"laptop\s+[0-9a-f]{16}\s+\S+\s+active\s+subdomain=app-\* port=20000-20010")

        r = run("list", "--json", "--data", self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(token, r.stdout)
        tokens = {t["name"]: t for t in json.loads(r.stdout)["tokens"]}
        self.assertEqual(set(tokens), {"laptop", "server"})
        self.assertEqual(tokens["laptop"]["allow_port"], "20000-20010")
        self.assertIsNone(tokens["laptop"]["revoked_at"])

        self.assertEqual(run("revoke", "laptop", "--data", self.data).returncode, 0)
        again = run("revoke", "laptop", "--data", self.data)
        self.assertEqual(again.returncode, 1)
        self.assertIn("already revoked", again.stderr)
        tokens = {t["name"]: t for t in json.loads(run("list", "--json", "--data", self.data).stdout)["tokens"]}
        self.assertIsNotNone(tokens["laptop"]["revoked_at"])

    def test_usage_errors(self):
        self.assertEqual(run("create", "bad name", "--data", self.data).returncode, 2)
        self.assertEqual(run("create", "x", "--allow-port", "9-1", "--data", self.data).returncode, 2)
        self.assertEqual(run("create", "x", "--allow-hostname", "a_b.test", "--data", self.data).returncode, 2)
        self.assertEqual(run("create", "--data", self.data).returncode, 2)
        self.assertEqual(run().returncode, 2)
        self.assertFalse(os.path.exists(self.data))
        self.create("dup")
        self.assertEqual(run("create", "dup", "--data", self.data).returncode, 1)
        self.assertEqual(run("revoke", "nobody", "--data", self.data).returncode, 1)

    def test_allow_hostname(self):
        self.create("web", "--allow-hostname", "*.example.test,shop.other.test")
        r = run("list", "--data", self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"web\s+[0-9a-f]{16}\s+\S+\s+active\s+hostname=\*\.example\.test,shop\.other\.test")
        tokens = json.loads(run("list", "--json", "--data", self.data).stdout)["tokens"]
        self.assertEqual(tokens[0]["allow_hostname"], "*.example.test,shop.other.test")

    def test_list_on_missing_dir_creates_nothing(self):
        r = run("list", "--data", self.data)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "")
        self.assertFalse(os.path.exists(self.data))

    def test_help(self):
        for sub in ([], ["create"], ["list"], ["revoke"]):
            r = run(*sub, "--help")
            self.assertEqual(r.returncode, 0, sub)
            self.assertIn("--data" if sub else "create", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
