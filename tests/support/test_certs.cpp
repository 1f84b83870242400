#include "support/test_certs.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "support/subprocess.hpp"

namespace zlt::test {
namespace {

bool openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  int rc = run_command(argv);
  if (rc != 0) {
    std::string line;
    for (const auto& a : argv) line += a + " ";
    ADD_FAILURE() << "command failed (" << rc << "): " << line;
  }
  return rc == 0;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  return static_cast<bool>(f);
}

const std::vector<std::string> kEcKey = {"-newkey", "ec", "-pkeyopt",
                                         "ec_paramgen_curve:prime256v1", "-nodes"};

}  // namespace

const TestCerts& TestCerts::get() {
  static std::unique_ptr<TestCerts> certs;
  if (!certs) {
    certs.reset(new TestCerts);  // NOLINT: private constructor
    if (!certs->generate()) ADD_FAILURE() << "could not generate test certificates";
  }
  return *certs;
}

TestCerts::~TestCerts() {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

bool TestCerts::generate() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "zlt-certs-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return false;
  dir = tmpl;
  auto path = [&](const char* name) { return dir + "/" + name; };
  ca = {path("ca.pem"), path("ca.key")};
  leaf = {path("leaf.pem"), path("leaf.key")};
  other = {path("other.pem"), path("other.key")};
  selfsigned = {path("selfsigned.pem"), path("selfsigned.key")};

  auto req = [&](std::vector<std::string> args) {
    std::vector<std::string> all{"req"};
    all.insert(all.end(), kEcKey.begin(), kEcKey.end());
    all.insert(all.end(), args.begin(), args.end());
    return openssl(all);
  };
  auto sign = [&](const CertFiles& out, const char* cn, const char* san, const char* name) {
    const std::string csr = path(name) + std::string(".csr");
    const std::string ext = path(name) + std::string(".ext");
    return req({"-keyout", out.key, "-out", csr, "-subj", std::string("/CN=") + cn}) &&
           write_file(ext, std::string("subjectAltName=") + san +
                               "\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                               "extendedKeyUsage=serverAuth\n") &&
           openssl({"x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
                    "-out", out.cert, "-days", "30", "-extfile", ext});
  };

  return req({"-x509", "-keyout", ca.key, "-out", ca.cert, "-days", "30", "-subj",
              "/CN=zlayer-tunnel test CA"}) &&
         sign(leaf, "localhost", "DNS:localhost,IP:127.0.0.1,IP:::1", "leaf") &&
         sign(other, "other.invalid", "DNS:other.invalid", "other") &&
         req({"-x509", "-keyout", selfsigned.key, "-out", selfsigned.cert, "-days", "30", "-subj",
              "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"});
}

}  // namespace zlt::test
