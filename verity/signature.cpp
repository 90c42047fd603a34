#include "verity/signature.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <climits>
#include <memory>
#include <stdexcept>

#include "verity/encoding.h"

namespace lazyroot::verity {
namespace {

template <auto Free>
struct Deleter {
    template <typename T>
    void operator()(T* p) const {
        Free(p);
    }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using Pkcs7Ptr = std::unique_ptr<PKCS7, Deleter<PKCS7_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;

struct CertStackFree {
    void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using CertStack = std::unique_ptr<STACK_OF(X509), CertStackFree>;

// The most specific thing OpenSSL said (its last error, with any detail text),
// one line; the queue is left empty.
std::string openssl_error(std::string_view fallback) {
    const char* data = nullptr;
    int flags = 0;
    const unsigned long e = ERR_peek_last_error_all(nullptr, nullptr, nullptr, &data, &flags);
    std::string out;
    if (e != 0) {
        const char* reason = ERR_reason_error_string(e);
        out = reason ? reason : "error " + std::to_string(ERR_GET_REASON(e));
        if (data && *data && (flags & ERR_TXT_STRING)) out += std::string(" (") + data + ")";
    }
    ERR_clear_error();
    return out.empty() ? std::string(fallback) : out;
}

BioPtr memory_bio(std::string_view text) {
    if (text.size() > INT_MAX) return nullptr;
    return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Refuses encrypted keys instead of prompting on the terminal.
int no_passphrase(char*, int, int, void*) { return -1; }

CertStack read_certificates(std::string_view pem) {
    CertStack certs(sk_X509_new_null());
    BioPtr bio = memory_bio(pem);
    if (!certs || !bio) return certs;
    while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)) {
        if (sk_X509_push(certs.get(), c) <= 0) {
            X509_free(c);
            break;
        }
    }
    ERR_clear_error();  // the read that ends the loop always fails
    return certs;
}

X509Ptr first_certificate(std::string_view pem, const char* what) {
    BioPtr bio = memory_bio(pem);
    X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
    if (!cert) throw std::runtime_error(std::string(what) + ": no PEM certificate: " + openssl_error("unreadable"));
    return cert;
}

}  // namespace

std::vector<uint8_t> sign_root_hash(std::string_view root_hash_hex, std::string_view key_pem,
                                    std::string_view cert_pem) {
    ERR_clear_error();
    X509Ptr cert = first_certificate(cert_pem, "signing certificate");
    BioPtr key_bio = memory_bio(key_pem);
    KeyPtr key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
    if (!key)
        throw std::runtime_error("signing key: not an unencrypted PEM private key: " + openssl_error("unreadable"));
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
        ERR_clear_error();
        throw std::runtime_error("signing key does not belong to the signing certificate");
    }
    BioPtr data = memory_bio(root_hash_hex);
    Pkcs7Ptr p7(
        data ? PKCS7_sign(cert.get(), key.get(), nullptr, data.get(), PKCS7_DETACHED | PKCS7_BINARY | PKCS7_NOATTR)
             : nullptr);
    if (!p7) throw std::runtime_error("PKCS#7 signing failed: " + openssl_error("unknown error"));
    const int len = i2d_PKCS7(p7.get(), nullptr);
    if (len <= 0) throw std::runtime_error("PKCS#7 encoding failed: " + openssl_error("unknown error"));
    std::vector<uint8_t> der(static_cast<size_t>(len));
    unsigned char* out = der.data();
    if (i2d_PKCS7(p7.get(), &out) != len) throw std::runtime_error("PKCS#7 encoding failed");
    return der;
}

std::string certificate_fingerprint(std::string_view cert_pem) {
    ERR_clear_error();
    X509Ptr cert = first_certificate(cert_pem, "certificate");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (X509_digest(cert.get(), EVP_sha256(), md, &len) != 1)
        throw std::runtime_error("certificate fingerprint: " + openssl_error("digest failed"));
    return to_hex({md, len});
}

VerifyResult verify_signature(std::string_view root_hash_hex, std::span<const uint8_t> der_signature,
                              std::string_view trusted_cert_pem, TimeCheck time) {
    ERR_clear_error();
    CertStack trusted = read_certificates(trusted_cert_pem);
    if (!trusted || sk_X509_num(trusted.get()) == 0) return {false, "no certificate in the trusted PEM"};

    if (der_signature.empty() || der_signature.size() > LONG_MAX) return {false, "empty signature"};
    const unsigned char* p = der_signature.data();
    Pkcs7Ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der_signature.size())));
    if (!p7) return {false, "signature is not DER PKCS#7: " + openssl_error("unparsable")};
    if (p != der_signature.data() + der_signature.size()) return {false, "trailing bytes after the signature"};
    if (!PKCS7_type_is_signed(p7.get())) return {false, "PKCS#7 is not signedData"};
    // A signature that carries its own content would vouch for that, not for our hash.
    if (!PKCS7_get_detached(p7.get())) return {false, "signature is not detached"};

    StorePtr store(X509_STORE_new());
    if (!store) return {false, "out of memory"};
    for (int i = 0; i < sk_X509_num(trusted.get()); ++i)
        if (X509_STORE_add_cert(store.get(), sk_X509_value(trusted.get(), i)) != 1)
            return {false, "trusted certificate: " + openssl_error("cannot add to store")};
    // Every trusted certificate is an anchor, whether or not it is a self-signed root.
    // No validity-period check (as the kernel's module and dm-verity signature
    // checks): an initrd's clock may read 1970 until NTP runs, and a signing
    // certificate that expired must not stop a boot of an image signed while
    // it was valid. What is trusted is the pinned certificate and the root
    // hash it signed; the time adds nothing an initrd could rely on.
    X509_STORE_set_flags(store.get(),
                         X509_V_FLAG_PARTIAL_CHAIN | (time == TimeCheck::None ? X509_V_FLAG_NO_CHECK_TIME : 0));

    BioPtr data = memory_bio(root_hash_hex);
    if (!data) return {false, "out of memory"};
    // The trusted certificates double as candidates for the signer, for
    // signatures made without an embedded certificate.
    if (PKCS7_verify(p7.get(), trusted.get(), store.get(), data.get(), nullptr, PKCS7_BINARY) != 1)
        return {false, openssl_error("verification failed")};
    ERR_clear_error();
    return {true, {}};
}

}  // namespace lazyroot::verity
