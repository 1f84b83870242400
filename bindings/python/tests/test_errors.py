"""Errors carry the library's code and text, and name what was wrong."""

from __future__ import annotations

import unittest

import zlayer_tunnel as zt
from zlayer_tunnel.errors import error_for_code
from tunnel_support import agent_config, server_config


class ConfigErrorTest(unittest.TestCase):
    def setUp(self) -> None:
        self.runtime = zt.Runtime()
        self.addCleanup(self.runtime.close)

    def assert_config_error(self, make: object, fragment: str) -> zt.ConfigError:
        with self.assertRaises(zt.ConfigError) as caught:
            make()  # type: ignore[operator]
        err = caught.exception
        self.assertEqual(err.code, -5)
        self.assertIn(fragment, str(err))
        return err

    def test_server_config_errors_name_the_field(self) -> None:
        self.assert_config_error(lambda: zt.TunnelServer(self.runtime, "{"), "invalid JSON")
        self.assert_config_error(lambda: zt.TunnelServer(self.runtime, {"listen": 5}), "listen")
        self.assert_config_error(
            lambda: zt.TunnelServer(self.runtime, {"bogus": True}), "unknown key 'bogus'"
        )
        self.assert_config_error(
            lambda: zt.TunnelServer(self.runtime, server_config(data_port_range="wide")),
            "data_port_range",
        )

    def test_agent_config_errors_name_the_field(self) -> None:
        self.assert_config_error(lambda: zt.TunnelAgent(self.runtime, {}), "server_url")
        bad_port = agent_config(1, None)
        bad_port["services"] = [{"name": "a", "local_port": "x"}]
        self.assert_config_error(
            lambda: zt.TunnelAgent(self.runtime, bad_port), "services[0].local_port"
        )
        self.assert_config_error(
            lambda: zt.TunnelAgent(self.runtime, {"server_url": "http://x", "token": "t"}),
            "server_url",
        )

    def test_config_of_the_wrong_type(self) -> None:
        with self.assertRaises(TypeError):
            zt.TunnelServer(self.runtime, ["listen"])  # type: ignore[arg-type]

    def test_defaults_are_a_valid_server(self) -> None:
        with zt.TunnelServer(self.runtime) as server:
            with self.assertRaises(zt.InvalidArgumentError) as caught:
                server.listen("127.0.0.1", 70000)
            self.assertIn("70000", str(caught.exception))

    def test_address_in_use(self) -> None:
        with zt.TunnelServer(self.runtime, server_config()) as a, \
                zt.TunnelServer(self.runtime, server_config()) as b:
            port = a.listen("127.0.0.1", 0)
            with self.assertRaises(zt.TunnelConnectionError) as caught:
                b.listen("127.0.0.1", port)
            self.assertEqual(caught.exception.code, -3)
            self.assertTrue(str(caught.exception))

    def test_listen_on_the_configured_address(self) -> None:
        with zt.TunnelServer(self.runtime, server_config()) as server:
            self.assertGreater(server.listen(), 0)
            server.stop()
            with self.assertRaises(zt.ShutdownError):
                server.listen("127.0.0.1", 0)
            server.stop()  # idempotent

    def test_error_classes(self) -> None:
        self.assertTrue(issubclass(zt.ConfigError, zt.TunnelError))
        self.assertTrue(issubclass(zt.TunnelConnectionError, zt.TunnelError))
        self.assertFalse(issubclass(zt.TunnelConnectionError, ConnectionError))
        err = zt.AuthError("refused")
        self.assertEqual((err.code, err.message), (-2, "refused"))
        self.assertIn("AuthError", repr(err))

    def test_every_library_code_has_its_class(self) -> None:
        # ZLT_EPROTOCOL (-1) .. ZLT_ECLOSED (-15): none falls back to the base class.
        for code in range(-15, 0):
            err = error_for_code(code, "x")
            self.assertIsNot(type(err), zt.TunnelError, code)
            self.assertEqual(err.code, code)
        closed = error_for_code(-15, "freed")
        self.assertIsInstance(closed, zt.ClosedError)
        # A freed object is a closed one: handlers of ShutdownError keep catching it.
        self.assertIsInstance(closed, zt.ShutdownError)


if __name__ == "__main__":
    unittest.main()
