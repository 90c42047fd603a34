#include "tests/http_fixtures/test_ca.h"

#include <stdexcept>
#include <vector>

#include "tests/http_fixtures/child_process.h"

namespace lazyroot::fixtures {
namespace {

void openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    CommandResult r = run_command(args);
    if (r.exit_code != 0) {
        std::string cmd;
        for (const auto& a : args) cmd += a + " ";
        throw std::runtime_error("TestCa: " + cmd + "failed (" + std::to_string(r.exit_code) + "): " + r.output);
    }
}

// P-256: key generation is instant, unlike RSA.
const std::vector<std::string> kNewKey = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};

}  // namespace

TestCa::TestCa(const std::string& ca_name) {
    ca_cert_ = (dir_ / "ca.crt").string();
    ca_key_ = (dir_ / "ca.key").string();
    std::vector<std::string> ca = {"req", "-x509"};
    ca.insert(ca.end(), kNewKey.begin(), kNewKey.end());
    ca.insert(ca.end(), {"-keyout", ca_key_, "-out", ca_cert_, "-days", "2", "-subj", "/CN=" + ca_name, "-addext",
                         "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
    openssl(ca);

    issue("server", "/CN=127.0.0.1",
          "basicConstraints=critical,CA:FALSE\n"
          "keyUsage=critical,digitalSignature\n"
          "extendedKeyUsage=serverAuth\n"
          "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
          2);
    server_cert_ = (dir_ / "server.crt").string();
    server_key_ = (dir_ / "server.key").string();

    issue("client", "/CN=lazyroot test client",
          "basicConstraints=critical,CA:FALSE\n"
          "keyUsage=critical,digitalSignature\n"
          "extendedKeyUsage=clientAuth\n",
          3);
    client_cert_ = (dir_ / "client.crt").string();
    client_key_ = (dir_ / "client.key").string();

    issue("other", "/CN=other.invalid",
          "basicConstraints=critical,CA:FALSE\n"
          "keyUsage=critical,digitalSignature\n"
          "extendedKeyUsage=serverAuth\n"
          "subjectAltName=DNS:other.invalid\n",
          4);
    other_name_cert_ = (dir_ / "other.crt").string();
    other_name_key_ = (dir_ / "other.key").string();
}

void TestCa::issue(const std::string& name, const std::string& subject, const std::string& extensions, int serial) {
    const std::string key = (dir_ / (name + ".key")).string();
    const std::string csr = (dir_ / (name + ".csr")).string();
    const std::string crt = (dir_ / (name + ".crt")).string();
    const std::string ext = dir_.write_file(name + ".ext", extensions).string();
    std::vector<std::string> req = {"req", "-new"};
    req.insert(req.end(), kNewKey.begin(), kNewKey.end());
    req.insert(req.end(), {"-keyout", key, "-out", csr, "-subj", subject});
    openssl(req);
    openssl({"x509", "-req", "-in", csr, "-CA", ca_cert_, "-CAkey", ca_key_, "-set_serial", std::to_string(serial),
             "-days", "2", "-out", crt, "-extfile", ext});
}

}  // namespace lazyroot::fixtures
