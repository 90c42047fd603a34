#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// Root-hash signatures in the shape systemd's verity-sig partitions (and the
// kernel's dm-verity root_hash_sig_key_desc) use: a detached PKCS#7
// signedData, DER, over the root hash as a lowercase hex string without a
// newline; no signed attributes; the signer's certificate included. The bytes
// `openssl smime -sign -binary -noattr -outform DER` produces for that string.
// The same two functions sign and check a manifest's embedded prefetch
// profile (verity/manifest.h): the signed string is then the profile's text.
namespace lazyroot::verity {

// Signs with a PEM private key (unencrypted) and its PEM certificate. Throws
// std::runtime_error (one line) for unreadable PEM or a key that isn't the
// certificate's.
std::vector<uint8_t> sign_root_hash(std::string_view root_hash_hex, std::string_view key_pem,
                                    std::string_view cert_pem);

// SHA-256 of the certificate's DER encoding, lowercase hex (the verity-sig
// "certificateFingerprint"). Uses the first certificate in the PEM. Throws
// std::runtime_error if there is none.
std::string certificate_fingerprint(std::string_view cert_pem);

struct VerifyResult {
    bool ok = false;
    std::string reason;  // one line when !ok
    explicit operator bool() const { return ok; }
};

// True when der_signature is a detached PKCS#7 over exactly root_hash_hex,
// made by a certificate that is in trusted_cert_pem (one or more PEM
// certificates) or chains to one. Any certificate in the PEM is a trust
// anchor, CA or not. Signer certificates must allow S/MIME signing (no
// keyUsage or extended key usage that excludes it). Validity periods are
// checked only with TimeCheck::Now (`prepare`, where the clock is right and an
// expired certificate is a mistake); at attach the clock is not trusted (an
// initrd may think it is 1970) and expiry must not stop a boot. Never throws.
enum class TimeCheck { None, Now };
VerifyResult verify_signature(std::string_view root_hash_hex, std::span<const uint8_t> der_signature,
                              std::string_view trusted_cert_pem, TimeCheck time = TimeCheck::None);

}  // namespace lazyroot::verity
