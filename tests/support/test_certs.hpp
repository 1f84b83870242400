// Throwaway X.509 material for TLS tests, made with the openssl command line into a temporary
// directory that is removed again at process exit:
//   ca          a CA certificate and key
//   leaf        signed by ca, for localhost, 127.0.0.1 and ::1
//   other       signed by ca, for other.invalid only (hostname and IP mismatch tests)
//   selfsigned  a self-signed certificate for localhost and 127.0.0.1
#pragma once

#include <string>

namespace zlt::test {

struct CertFiles {
  std::string cert;  // PEM
  std::string key;   // PEM
};

class TestCerts {
 public:
  // Generated on first use; fails the calling test (and returns an empty set) if openssl fails.
  static const TestCerts& get();

  std::string dir;
  CertFiles ca;
  CertFiles leaf;
  CertFiles other;
  CertFiles selfsigned;

  ~TestCerts();

 private:
  TestCerts() = default;
  bool generate();
};

}  // namespace zlt::test
