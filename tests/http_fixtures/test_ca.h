#pragma once
#include <string>

#include "tests/http_fixtures/temp_dir.h"

namespace lazyroot::fixtures {

// A throwaway certificate authority made with the openssl CLI: a CA, a server
// certificate for 127.0.0.1 (SAN IP:127.0.0.1 and DNS:localhost) and a client
// certificate, a server certificate for another name (DNS:other.invalid only:
// a hostile server's), all P-256 keys without passphrases, valid for two days. Files
// are PEM, in a temp dir removed with the object.
class TestCa {
public:
    // Throws std::runtime_error with openssl's output when a step fails.
    // Two CAs that must be told apart need different names: OpenSSL finds
    // an issuer by its name first.
    explicit TestCa(const std::string& ca_name = "lazyroot test CA");

    const std::string& ca_cert() const { return ca_cert_; }
    const std::string& ca_key() const { return ca_key_; }
    const std::string& server_cert() const { return server_cert_; }
    const std::string& server_key() const { return server_key_; }
    const std::string& client_cert() const { return client_cert_; }
    const std::string& client_key() const { return client_key_; }
    const std::string& other_name_cert() const { return other_name_cert_; }
    const std::string& other_name_key() const { return other_name_key_; }

private:
    // Makes <name>.key/<name>.crt signed by the CA with the given extensions.
    void issue(const std::string& name, const std::string& subject, const std::string& extensions, int serial);

    TempDir dir_{"lazyroot-ca"};
    std::string ca_cert_, ca_key_, server_cert_, server_key_, client_cert_, client_key_;
    std::string other_name_cert_, other_name_key_;
};

}  // namespace lazyroot::fixtures
