#include "cli/verity_plan.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "cli/source_stack.h"
#include "http/small_get.h"
#include "http/url_check.h"
#include "io/range_source.h"
#include "verity/ddi.h"
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

// IMAGE.manifest.json beside the image: the name gets the suffix, the
// query (a plain one) stays after it. A presigned URL signs its one object,
// so no URL of the manifest can be made from it.
std::string manifest_url(const std::string& image_url) {
    if (http::is_presigned(image_url))
        throw std::runtime_error(
            "--verity with a manifest: a presigned URL signs one object, so the manifest's URL cannot be made "
            "from it; use --verity=ddi, or --verity=ROOTHASH with --hash-offset");
    const auto q = image_url.find_first_of("?#");
    if (q == std::string::npos) return image_url + ".manifest.json";
    return image_url.substr(0, q) + ".manifest.json" + image_url.substr(q);
}

std::string fetch_manifest(const SourceUri& uri, const AttachOptions& o) {
    if (uri.kind == SourceUri::Kind::File) return read_text(uri.path + ".manifest.json");
    if (uri.kind == SourceUri::Kind::Http) {
        http::HttpOptions h = http_options(uri, o);
        h.pin_at_attach = false;  // one request, before anything is pinned
        // From the first of the source and its mirrors that answers: a dead
        // primary must not fail an attach the mirrors can serve. Each
        // mirror's manifest is checked against the root hash or signature
        // the same way, so any of them will do.
        std::vector<std::string> urls{manifest_url(http_url(uri, o))};
        for (const auto& m : o.mirrors) urls.push_back(manifest_url(m));
        std::string first_error;
        for (const auto& u : urls) {
            try {
                return http::small_get(u, h);
            } catch (const std::runtime_error& e) {
                if (first_error.empty()) first_error = e.what();
            }
        }
        throw std::runtime_error(first_error);
    }
    throw std::runtime_error("--verity needs --hash-offset with this SOURCE");
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

void check_signature(const std::string& what, const std::string& root_hash, const std::vector<uint8_t>& sig,
                     const std::string& trusted_pem) {
    auto verdict = verity::verify_signature(root_hash, sig, trusted_pem);
    if (!verdict) throw std::runtime_error(what + ": untrusted signature: " + verdict.reason);
}

}  // namespace

VerityPlan plan_ddi(uint64_t image_size, const ReadAt& read_at, const std::string& trusted_pem) {
    // The header is at LBA 1: offset 512 on a 512 B-sector disk, 4096 on a 4 KiB one.
    uint32_t ss = 0;
    std::vector<uint8_t> header;
    for (uint32_t candidate : {512u, 4096u}) {
        if (2ull * candidate > image_size) break;
        header = read_at(candidate, candidate);
        if (verity::has_gpt_signature(header)) {
            ss = candidate;
            break;
        }
    }
    if (ss == 0) throw verity::DdiError("--verity=ddi: no GPT header at LBA 1 (not a GPT disk image)");
    const verity::GptHeader h = verity::parse_gpt_header(header, ss);
    if (h.entries_offset() > image_size || h.entries_bytes() > image_size - h.entries_offset())
        throw verity::DdiError("GPT: the partition entries lie past the end of the image");
    const auto parts = verity::parse_gpt_entries(read_at(h.entries_offset(), h.entries_bytes()), h);
    const verity::DdiRoot ddi = verity::find_ddi_root(parts);
    auto range = [&](const verity::GptPartition& p, const char* what) {
        ByteRange r{p.offset(ss), p.size(ss)};
        if (r.offset > image_size || r.length > image_size - r.offset)
            throw verity::DdiError(std::string("DDI: the ") + what + " partition lies past the end of the image");
        return r;
    };
    VerityPlan plan;
    plan.data_range = range(ddi.root, "root");
    plan.tree_range = range(ddi.verity, "root-verity");
    const ByteRange sig_range = range(ddi.signature, "root-verity-sig");
    if (sig_range.length > (1u << 20)) throw verity::DdiError("DDI: the root-verity-sig partition is over 1 MiB");
    const verity::VeritySig sig = verity::parse_verity_sig(read_at(sig_range.offset, sig_range.length));
    check_signature("--verity=ddi", sig.root_hash, sig.signature, trusted_pem);
    plan.root_hash_hex = sig.root_hash;
    plan.signature = sig.signature;
    plan.hash_offset = 0;  // veritysetup puts the superblock first in the hash partition
    return plan;
}

VerityPlan plan_verity(const SourceUri& uri, const AttachOptions& o) {
    VerityPlan plan;
    if (o.verity == VerityKind::Ddi) {
        // Attach-time reads through the same transport the device will use.
        std::unique_ptr<io::Source> src = open_transport(uri, o);
        auto read_at = [&](uint64_t offset, uint64_t length) {
            std::vector<uint8_t> buf(length);
            if (int r = io::read_blocking(*src, offset, std::as_writable_bytes(std::span(buf))); r < 0)
                throw std::runtime_error("--verity=ddi: cannot read " + uri.text + ": " + std::strerror(-r));
            return buf;
        };
        plan = plan_ddi(src->size(), read_at, read_text(o.trust_file));
        plan.kernel_checks_signature = o.verity_sig_keyring;
        return plan;
    }

    const bool from_manifest = o.verity == VerityKind::Manifest;
    plan.hash_source = o.hash_source;
    if (!from_manifest) plan.root_hash_hex = lower(o.root_hash);
    if (!from_manifest && (o.hash_offset || !o.hash_source.empty())) {
        // A separate tree starts with its superblock, as `prepare --hash-out` writes it.
        plan.hash_offset = o.hash_offset.value_or(0);
        return plan;
    }
    // An unsigned manifest is fine when the root hash comes from the command
    // line: the root hash authenticates the tree the offset points at.
    verity::Manifest m = verity::parse_manifest(fetch_manifest(uri, o));
    if (m.hash_file && o.hash_source.empty())
        throw std::runtime_error("the manifest of " + uri.text + " puts the hash tree in a separate file (" +
                                 *m.hash_file + "): name it with --hash-source");
    plan.hash_offset =
        !o.hash_source.empty() ? (m.hash_file ? m.hash_offset : 0) : o.hash_offset.value_or(m.hash_offset);
    if (!from_manifest) return plan;

    if (!m.signature) throw std::runtime_error("--verity=manifest: the manifest of " + uri.text + " is not signed");
    if (lower(m.signature->root_hash) != lower(m.root_hash))
        throw std::runtime_error("--verity=manifest: the signature covers another root hash");
    const std::string trusted = read_text(o.trust_file);
    check_signature("--verity=manifest", m.root_hash, m.signature->signature, trusted);
    if (m.profile) {
        // Signed by the root hash's signer, or not used: the signature over
        // the root hash says nothing about the profile beside it.
        plan.profile_sha256 = m.profile->sha256;
        if (m.profile->signature.empty())
            plan.profile_unused = "it is not signed";
        else if (auto v = verity::verify_signature(m.profile->text, m.profile->signature, trusted); !v)
            plan.profile_unused = "untrusted signature: " + v.reason;
        else
            plan.profile_text = m.profile->text;
    }
    plan.root_hash_hex = lower(m.root_hash);
    plan.signature = m.signature->signature;
    plan.kernel_checks_signature = o.verity_sig_keyring;
    return plan;
}

}  // namespace lazyroot::cli
