"""Library-wide functions and finding the shared library."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unittest

import zlayer_tunnel as zt

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code: str, **env_changes: str | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


class LibraryTest(unittest.TestCase):
    def test_version(self) -> None:
        self.assertRegex(zt.version(), r"^0\.\d+\.\d+$")

    def test_hash_token_vector(self) -> None:
        self.assertEqual(
            zt.hash_token("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        )

    def test_hash_token_refuses_what_c_would_truncate(self) -> None:
        with self.assertRaises(ValueError):
            zt.hash_token("te\0st")
        with self.assertRaises(TypeError):
            zt.hash_token(b"test")  # type: ignore[arg-type]

    def test_new_tokens_are_random(self) -> None:
        a, b = zt.new_token(), zt.new_token()
        self.assertRegex(a, r"^tun_[0-9a-f]{32}$")
        self.assertNotEqual(a, b)

    def test_log_level(self) -> None:
        zt.set_log_level("warn")
        self.addCleanup(zt.set_log_level, "info")
        with self.assertRaises(zt.InvalidArgumentError) as caught:
            zt.set_log_level("loud")
        err = caught.exception
        self.assertIsInstance(err, zt.TunnelError)
        self.assertEqual(err.code, -8)
        self.assertIn("unknown level 'loud'", str(err))
        self.assertEqual(err.message, str(err))

    def test_strerror(self) -> None:
        self.assertEqual(zt.strerror(0), "success")
        self.assertEqual(zt.strerror(-999), "unknown error")

    def test_library_logs_reach_the_logging_module(self) -> None:
        from tunnel_support import catch_logs

        # A server without tokens warns that every agent will be refused.
        with catch_logs("zlayer_tunnel.lib") as logs, zt.Runtime() as rt:
            zt.TunnelServer(rt, {"listen": "127.0.0.1:0"}).close()
            record = logs.wait_for("no tokens configured")
        self.assertIsNotNone(record)
        assert record is not None
        self.assertEqual(record.levelname, "WARNING")
        self.assertTrue(record.name.startswith("zlayer_tunnel.lib."), record.name)


class LibraryLookupTest(unittest.TestCase):
    """Loading happens once per process, so each case runs in a fresh interpreter."""

    def test_explicit_path_that_does_not_exist(self) -> None:
        out = run_python(
            "import zlayer_tunnel as zt\n"
            "try:\n"
            "    zt.version()\n"
            "except zt.LibraryNotFoundError as e:\n"
            "    print('refused:', e)\n",
            ZLAYER_TUNNEL_LIB="/nonexistent/libzlayer_tunnel.so.0",
        )
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("refused:", out.stdout)
        self.assertIn("ZLAYER_TUNNEL_LIB", out.stdout)
        self.assertIn("/nonexistent/libzlayer_tunnel.so.0", out.stdout)

    def test_import_does_not_need_the_library(self) -> None:
        out = run_python("import zlayer_tunnel", ZLAYER_TUNNEL_LIB="/nonexistent/lib.so")
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_found_through_pkg_config(self) -> None:
        explicit = os.environ.get("ZLAYER_TUNNEL_LIB")
        if not explicit:
            self.skipTest("ZLAYER_TUNNEL_LIB is not set: no build tree to point pkg-config at")
        build_dir = os.path.dirname(os.path.realpath(explicit))
        pc_dir = os.path.join(build_dir, "pkgconfig-uninstalled")
        if not os.path.exists(os.path.join(pc_dir, "zlayer-tunnel.pc")):
            self.skipTest(f"no uninstalled pkg-config module in {build_dir}")
        out = run_python(
            "import zlayer_tunnel as zt; print(zt.library_path()); print(zt.version())",
            ZLAYER_TUNNEL_LIB=None,
            PKG_CONFIG_PATH=pc_dir,
        )
        self.assertEqual(out.returncode, 0, out.stderr)
        path, version = out.stdout.split()
        self.assertEqual(os.path.dirname(path), build_dir)
        self.assertTrue(path.endswith("libzlayer_tunnel.so.0"), path)
        self.assertEqual(version, zt.version())

    def test_nothing_found(self) -> None:
        out = run_python(
            "import zlayer_tunnel as zt\n"
            "try:\n"
            "    zt.version()\n"
            "except zt.LibraryNotFoundError as e:\n"
            "    print('refused:', e)\n",
            ZLAYER_TUNNEL_LIB=None,
            PKG_CONFIG_PATH="/nonexistent",
            PKG_CONFIG_LIBDIR="/nonexistent",
            LD_LIBRARY_PATH=None,
        )
        self.assertEqual(out.returncode, 0, out.stderr)
        if "refused:" not in out.stdout:
            self.skipTest("the library is installed system-wide")
        self.assertIn("libzlayer_tunnel.so.0", out.stdout)
        self.assertTrue(re.search(r"LD_LIBRARY_PATH", out.stdout), out.stdout)


if __name__ == "__main__":
    unittest.main()
