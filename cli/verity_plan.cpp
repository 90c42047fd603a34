#include "cli/verity_plan.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "http/small_get.h"
#include "verity/manifest.h"
#include "verity/signature.h"

namespace lazyroot::cli {
namespace {

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string fetch_manifest(const SourceUri& uri, const AttachOptions& o) {
    if (uri.kind == SourceUri::Kind::File) return read_text(uri.path + ".manifest.json");
    if (uri.kind == SourceUri::Kind::Http) {
        http::HttpOptions h;
        h.io_timeout = std::chrono::milliseconds(static_cast<long>(o.io_timeout_s * 1000));
        h.ca_file = o.ca_file;
        h.cert_file = o.cert_file;
        h.key_file = o.key_file;
        return http::small_get(uri.text + ".manifest.json", h);
    }
    throw std::runtime_error("--verity needs --hash-offset with this SOURCE");
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

VerityPlan plan_verity(const SourceUri& uri, const AttachOptions& o) {
    VerityPlan plan;
    const bool from_manifest = o.verity == "manifest";
    if (!from_manifest) plan.root_hash_hex = lower(o.verity);
    if (!from_manifest && o.hash_offset) {
        plan.hash_offset = *o.hash_offset;
        return plan;
    }
    // An unsigned manifest is fine when the root hash comes from the command
    // line: the root hash authenticates the tree the offset points at.
    verity::Manifest m = verity::parse_manifest(fetch_manifest(uri, o));
    plan.hash_offset = o.hash_offset.value_or(m.hash_offset);
    if (!from_manifest) return plan;

    if (!m.signature)
        throw std::runtime_error("--verity=manifest: the manifest of " + uri.text + " is not signed");
    if (lower(m.signature->root_hash) != lower(m.root_hash))
        throw std::runtime_error("--verity=manifest: the signature covers another root hash");
    auto verdict = verity::verify_signature(m.root_hash, m.signature->signature, read_text(o.trust_file));
    if (!verdict)
        throw std::runtime_error("--verity=manifest: untrusted signature: " + verdict.reason);
    plan.root_hash_hex = lower(m.root_hash);
    return plan;
}

}  // namespace lazyroot::cli
