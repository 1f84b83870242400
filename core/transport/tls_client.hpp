// One end of TLS as a pure byte transformer (the client end; accept() makes the server end):
// ciphertext from the socket goes in with feed(), plaintext comes out of read(); plaintext goes in
// with write(), ciphertext for the socket comes out of take_output(). OpenSSL talks to memory BIOs
// only, so the socket stays with libuv and nothing here blocks.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/common/error.hpp"
#include "core/transport/url.hpp"

namespace zlt {

struct TlsClientOptions {
  std::optional<std::string> ca_file;  // nullopt: the system's default CA store
  bool insecure = false;               // no certificate or hostname verification (tests only)
  std::string host;                    // the name or IP literal the certificate must match
  bool host_is_ip = false;             // IP literals get no SNI and are matched as addresses
};

// The options for a client of `url` (its host is what the certificate must match).
TlsClientOptions tls_options_for(const Url& url, std::optional<std::string> ca_file, bool insecure);

struct SslDeleter {
  void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
  void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};
using SslPtr = std::unique_ptr<SSL, SslDeleter>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslDeleter>;

class TlsClient {
 public:
  // Errors: Errc::config when the CA file cannot be loaded, Errc::internal when OpenSSL fails.
  static Result<std::unique_ptr<TlsClient>> create(const TlsClientOptions& options);

  // The server context for a certificate chain and its key (PEM files). Errors are
  // Errc::config naming the file.
  static Result<SslCtxPtr> server_context(const std::string& cert_file,
                                          const std::string& key_file);
  // The server end of one connection on `ctx` (from server_context), awaiting a ClientHello.
  static Result<std::unique_ptr<TlsClient>> accept(SSL_CTX* ctx);

  // Ciphertext received from the socket.
  void feed(std::span<const std::uint8_t> ciphertext);
  // Advances the handshake: true once it is complete, false while it needs more input.
  // Errors are Errc::connection with a "TLS: " prefix ("TLS: certificate verify failed: ...").
  Result<bool> handshake();
  // Decrypts into `out`. Returns the bytes produced; 0 means more ciphertext is needed.
  // The peer's close_notify is an error "TLS: closed by peer".
  Result<std::size_t> read(std::span<std::uint8_t> out);
  // Encrypts all of `plaintext` (memory BIOs never push back).
  Status write(std::span<const std::uint8_t> plaintext);
  // Queues a close_notify alert.
  void shutdown();

  // Ciphertext waiting for the socket.
  std::size_t pending_output() const;
  std::size_t take_output(std::span<std::uint8_t> out);

  // "TLSv1.3 TLS_AES_256_GCM_SHA384"
  std::string describe() const;

 private:
  TlsClient() = default;
  // An SSL object on `ctx` with memory BIOs (the common part of create and accept).
  static Result<std::unique_ptr<TlsClient>> with_memory_bios(SSL_CTX* ctx);
  Error failure(int ssl_error, const char* what) const;

  SslPtr ssl_;
  BIO* rbio_ = nullptr;  // owned by ssl_
  BIO* wbio_ = nullptr;  // owned by ssl_
  bool insecure_ = false;
};

}  // namespace zlt
