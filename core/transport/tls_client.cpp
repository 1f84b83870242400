#include "core/transport/tls_client.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <map>
#include <mutex>
#include <utility>

#include "core/runtime/log.hpp"

namespace zlt {
namespace {

constexpr const char* kLog = "ws-client";

// The reason text of the oldest queued OpenSSL error ("wrong version number"), or `fallback`.
std::string openssl_reason(const char* fallback) {
  unsigned long e = ERR_peek_error();
  if (e == 0) return fallback;
  const char* reason = ERR_reason_error_string(e);
  if (reason != nullptr) return reason;
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

Result<SslCtxPtr> make_context(const std::optional<std::string>& ca_file, bool insecure) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return make_error(Errc::internal, "TLS: " + openssl_reason("cannot create context"));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (insecure) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    return ctx;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (ca_file) {
    if (SSL_CTX_load_verify_locations(ctx.get(), ca_file->c_str(), nullptr) != 1)
      return make_error(Errc::config, "TLS: cannot load CA file '" + *ca_file +
                                          "': " + openssl_reason("unreadable or not PEM"));
  } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    return make_error(Errc::config,
                      "TLS: cannot load the system CA store: " + openssl_reason("unknown error"));
  }
  return ctx;
}

// Contexts are immutable once built and loading a CA store is the expensive part of a
// connection, so reconnects reuse them. Per thread, because core runs on loop threads and
// needs no locks.
Result<SSL_CTX*> cached_context(const std::optional<std::string>& ca_file, bool insecure) {
  thread_local std::map<std::pair<std::string, bool>, SslCtxPtr> cache;
  // A CA file path can never be empty, so "" stands for the system store.
  auto key = std::make_pair(insecure ? std::string() : ca_file.value_or(std::string()), insecure);
  if (auto it = cache.find(key); it != cache.end()) return it->second.get();
  auto ctx = make_context(ca_file, insecure);
  if (!ctx) return ctx.take_error();
  SSL_CTX* raw = ctx->get();
  cache.emplace(std::move(key), std::move(*ctx));
  return raw;
}

void warn_insecure_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    ZLT_LOG(warn, kLog) << "TLS certificate verification is disabled (insecure): the server's "
                           "identity is not checked";
  });
}

}  // namespace

Result<std::unique_ptr<TlsClient>> TlsClient::create(const TlsClientOptions& options) {
  auto ctx = cached_context(options.ca_file, options.insecure);
  if (!ctx) return ctx.take_error();
  if (options.insecure) warn_insecure_once();

  auto made = with_memory_bios(*ctx);
  if (!made) return made.take_error();
  std::unique_ptr<TlsClient> tls = std::move(*made);
  tls->insecure_ = options.insecure;
  SSL* ssl = tls->ssl_.get();

  if (!options.host_is_ip && SSL_set_tlsext_host_name(ssl, options.host.c_str()) != 1)
    return make_error(Errc::config, "TLS: bad server name '" + options.host + "'");
  if (!options.insecure) {
    int ok;
    if (options.host_is_ip) {
      ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), options.host.c_str());
    } else {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = SSL_set1_host(ssl, options.host.c_str());
    }
    if (ok != 1) return make_error(Errc::config, "TLS: cannot verify host '" + options.host + "'");
  }
  SSL_set_connect_state(ssl);
  return tls;
}

Result<std::unique_ptr<TlsClient>> TlsClient::with_memory_bios(SSL_CTX* ctx) {
  std::unique_ptr<TlsClient> tls(new TlsClient);  // NOLINT: private constructor
  ERR_clear_error();
  tls->ssl_.reset(SSL_new(ctx));
  if (!tls->ssl_) return make_error(Errc::internal, "TLS: " + openssl_reason("SSL_new failed"));
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  if (rbio == nullptr || wbio == nullptr) {
    BIO_free(rbio);
    BIO_free(wbio);
    return make_error(Errc::internal, "TLS: cannot allocate memory BIOs");
  }
  // An empty input BIO means "wait for more", never end of file: the socket reports EOF.
  BIO_set_mem_eof_return(rbio, -1);
  SSL_set_bio(tls->ssl_.get(), rbio, wbio);
  tls->rbio_ = rbio;
  tls->wbio_ = wbio;
  return tls;
}

Result<SslCtxPtr> TlsClient::server_context(const std::string& cert_file,
                                            const std::string& key_file) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return make_error(Errc::internal, "TLS: " + openssl_reason("cannot create context"));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1)
    return make_error(Errc::config, "TLS: cannot load certificate '" + cert_file +
                                        "': " + openssl_reason("unreadable or not PEM"));
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return make_error(Errc::config, "TLS: cannot load key '" + key_file +
                                        "': " + openssl_reason("unreadable or not PEM"));
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return make_error(Errc::config,
                      "TLS: key '" + key_file + "' does not match certificate '" + cert_file + "'");
  ERR_clear_error();
  return ctx;
}

Result<std::unique_ptr<TlsClient>> TlsClient::accept(SSL_CTX* ctx) {
  auto tls = with_memory_bios(ctx);
  if (!tls) return tls.take_error();
  (*tls)->insecure_ = true;  // the server does not ask for client certificates
  SSL_set_accept_state((*tls)->ssl_.get());
  return tls;
}

void TlsClient::feed(std::span<const std::uint8_t> ciphertext) {
  while (!ciphertext.empty()) {
    int chunk = static_cast<int>(std::min<std::size_t>(ciphertext.size(), 1 << 30));
    int n = BIO_write(rbio_, ciphertext.data(), chunk);
    if (n <= 0) break;  // only on allocation failure; the handshake or read then fails
    ciphertext = ciphertext.subspan(static_cast<std::size_t>(n));
  }
}

Error TlsClient::failure(int ssl_error, const char* what) const {
  if (!insecure_) {
    long verify = SSL_get_verify_result(ssl_.get());
    if (verify != X509_V_OK)
      return make_error(Errc::connection, std::string("TLS: certificate verify failed: ") +
                                              X509_verify_cert_error_string(verify));
  }
  if (ssl_error == SSL_ERROR_ZERO_RETURN)
    return make_error(Errc::connection, "TLS: closed by peer");
  return make_error(Errc::connection, std::string("TLS: ") + openssl_reason(what));
}

Result<bool> TlsClient::handshake() {
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_.get());
  if (rc == 1) return true;
  int err = SSL_get_error(ssl_.get(), rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return false;
  Error e = failure(err, "handshake failed");
  ERR_clear_error();
  return e;
}

Result<std::size_t> TlsClient::read(std::span<std::uint8_t> out) {
  ERR_clear_error();
  std::size_t n = 0;
  if (SSL_read_ex(ssl_.get(), out.data(), out.size(), &n) == 1) return n;
  int err = SSL_get_error(ssl_.get(), 0);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return std::size_t{0};
  Error e = failure(err, "read failed");
  ERR_clear_error();
  return e;
}

Status TlsClient::write(std::span<const std::uint8_t> plaintext) {
  ERR_clear_error();
  while (!plaintext.empty()) {
    std::size_t n = 0;
    if (SSL_write_ex(ssl_.get(), plaintext.data(), plaintext.size(), &n) != 1) {
      Error e = failure(SSL_get_error(ssl_.get(), 0), "write failed");
      ERR_clear_error();
      return e;
    }
    plaintext = plaintext.subspan(n);
  }
  return {};
}

void TlsClient::shutdown() {
  ERR_clear_error();
  SSL_shutdown(ssl_.get());
  ERR_clear_error();
}

std::size_t TlsClient::pending_output() const {
  return BIO_ctrl_pending(wbio_);
}

std::size_t TlsClient::take_output(std::span<std::uint8_t> out) {
  int want = static_cast<int>(std::min<std::size_t>(out.size(), 1 << 30));
  int n = BIO_read(wbio_, out.data(), want);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::string TlsClient::describe() const {
  return std::string(SSL_get_version(ssl_.get())) + " " + SSL_get_cipher_name(ssl_.get());
}

TlsClientOptions tls_options_for(const Url& url, std::optional<std::string> ca_file,
                                 bool insecure) {
  TlsClientOptions o;
  o.ca_file = std::move(ca_file);
  o.insecure = insecure;
  o.host = url.host;
  o.host_is_ip = url.host_is_ip();
  return o;
}

}  // namespace zlt
