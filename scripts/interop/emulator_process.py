"""Starts `scim-rotator emulator --port 0` as a child process and reads its start-up JSON line."""

import json
import os
import signal
import subprocess
import sys


class EmulatorProcess:
    def __init__(self, binary, *extra_args):
        self.binary = binary
        self.args = [binary, "emulator", "--port", "0", *extra_args]
        self.proc = None
        self.info = None

    def __enter__(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{' '.join(self.args)} printed no start-up line (exit {self.proc.poll()})")
        self.info = json.loads(line)
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise RuntimeError("the emulator did not stop within 10 s of SIGTERM")
        if exc[0] is None and code != 0:
            raise RuntimeError(f"the emulator exited with {code} after SIGTERM (expected 0)")
        return False

    @property
    def hostport(self):
        return self.info["url"].removeprefix("http://")

    def admin(self, method, path, body=None):
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.info["admin"] + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as reply:
            return json.loads(reply.read())


class Checks:
    """Counts and reports named checks; exits non-zero if any failed."""

    def __init__(self, suite):
        self.suite = suite
        self.failed = []
        self.passed = 0

    def check(self, name, condition, detail=""):
        if condition:
            self.passed += 1
            print(f"  ok   {name}")
        else:
            self.failed.append(name)
            print(f"  FAIL {name} {detail}")

    def expect_error(self, name, code, call):
        try:
            call()
        except Exception as error:  # the SDKs raise their own exception types
            got = getattr(error, "code", None) or getattr(error, "get_code", lambda: None)()
            self.check(name, got == code, f"(got {got!r}: {error})")
            return
        self.check(name, False, f"(no error; expected {code})")

    def finish(self):
        total = self.passed + len(self.failed)
        print(f"{self.suite}: {self.passed}/{total} checks passed")
        if self.failed:
            print(f"{self.suite}: FAILED: {', '.join(self.failed)}")
            sys.exit(1)
