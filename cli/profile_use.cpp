#include "cli/profile_use.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "cache/prefetch_profile.h"
#include "http/small_get.h"
#include "http/url_check.h"
#include "io/log.h"
#include "io/redact.h"

namespace lazyroot::cli {
namespace {

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

std::string read_small_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(std::string("cannot read: ") + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (ss.str().size() > cache::kMaxProfileBytes) throw std::runtime_error("larger than any profile (16 MiB)");
    return ss.str();
}

// Beside the image: the suffix on the name, a plain query after it.
std::string beside(const std::string& url) {
    const auto q = url.find_first_of("?#");
    if (q == std::string::npos) return url + ".profile";
    return url.substr(0, q) + ".profile" + url.substr(q);
}

// The profile's chunks in the stack's cache's chunks, first-read order; `shown`
// names the profile in logs and in status.
std::vector<uint64_t> chunks_of(const std::string& text, const std::string& shown, SourceStack& stack,
                                const std::string& identity) {
    auto parsed = cache::parse_profile(text);
    if (auto* why = std::get_if<std::string>(&parsed)) {
        log::warn("ignoring the prefetch profile %s: %s", shown.c_str(), why->c_str());
        return {};
    }
    const auto& p = std::get<cache::PrefetchProfile>(parsed);
    if (p.image != identity || p.image_size != stack.top().size()) {
        log::warn("ignoring the prefetch profile %s: it was made for another image (%s)", shown.c_str(),
                  p.image.c_str());
        return {};
    }
    if (!stack.cached()) return {};
    const uint64_t cs = stack.cached()->store().chunk_size();
    const uint64_t total = stack.cached()->store().chunk_count();
    std::vector<uint64_t> chunks;
    std::vector<bool> seen(total);
    for (uint64_t c : p.chunks) {
        const uint64_t first = c * p.chunk_size / cs;
        const uint64_t last = std::min(total - 1, ((c + 1) * p.chunk_size - 1) / cs);
        for (uint64_t k = first; k <= last; ++k)
            if (!seen[k]) {
                seen[k] = true;
                chunks.push_back(k);
            }
    }
    log::info("prefetch profile %s: %zu chunks (%llu MiB) fetched in first-read order", shown.c_str(), chunks.size(),
              static_cast<unsigned long long>(chunks.size() * cs >> 20));
    if (!chunks.empty()) stack.set_profile_source(shown);
    return chunks;
}

}  // namespace

std::string profile_identity(SourceStack& stack, const std::string& root_hash_hex) {
    std::string id = root_hash_hex.empty() ? stack.top().identity() : "verity:" + root_hash_hex;
    // One printable word, as the file keeps it.
    for (char& c : id)
        if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f) c = '_';
    return id;
}

std::string profile_location(const SourceUri& uri, const AttachOptions& o) {
    if (o.profile != "auto") return o.profile;
    if (uri.kind == SourceUri::Kind::File) return uri.path + ".profile";
    const std::string url = http_url(uri, o);
    // A presigned URL signs its one object: no other URL can be made from it.
    if (http::is_presigned(url)) return "";
    return beside(url);
}

std::vector<uint64_t> load_profile_chunks(const SourceUri& uri, const AttachOptions& o, SourceStack& stack,
                                          const std::string& identity) {
    const std::string where = profile_location(uri, o);
    if (where.empty()) {
        log::info("no prefetch profile: a presigned SOURCE names no profile; give --profile=URL");
        return {};
    }
    const std::string shown = is_url(where) ? io::redact_url(where) : where;
    std::string text;
    try {
        if (is_url(where)) {
            http::HttpOptions h = http_options(uri, o);
            h.pin_at_attach = false;  // one request, before anything is pinned
            text = http::small_get(where, h, cache::kMaxProfileBytes);
        } else {
            text = read_small_file(where);
        }
    } catch (const std::exception& e) {
        log::info("no prefetch profile from %s: %s", shown.c_str(), e.what());
        return {};
    }
    return chunks_of(text, shown, stack, identity);
}

std::vector<uint64_t> manifest_profile_chunks(const VerityPlan& plan, SourceStack& stack, const std::string& identity) {
    if (plan.profile_sha256.empty()) return {};
    if (!plan.profile_unused.empty()) {
        log::warn("ignoring the prefetch profile in the manifest (sha256 %.16s): %s", plan.profile_sha256.c_str(),
                  plan.profile_unused.c_str());
        return {};
    }
    return chunks_of(plan.profile_text, "manifest", stack, identity);
}

ProfileRecording start_profile_recording(SourceStack& stack, const std::string& identity) {
    ProfileRecording r;
    const uint32_t cs = stack.cached() ? stack.cached()->store().chunk_size() : 64u * 1024;
    r.recorder = std::make_unique<cache::ProfileRecorder>(identity, stack.top().size(), cs);
    r.source = std::make_unique<cache::RecordingSource>(stack.top(), *r.recorder);
    return r;
}

void finish_profile_recording(ProfileRecording& rec, const std::string& path) {
    if (!rec.recorder || !rec.recorder->stop()) return;
    const auto p = rec.recorder->snapshot();
    if (int r = cache::write_profile_file(path, p); r < 0)
        log::error("cannot write the prefetch profile %s: %s", path.c_str(), std::strerror(-r));
    else
        log::info(
            "prefetch profile written to %s: %zu chunks of %u KiB, first-read order; the device read %llu "
            "distinct bytes while recording",
            path.c_str(), p.chunks.size(), p.chunk_size / 1024,
            static_cast<unsigned long long>(rec.recorder->distinct_read_bytes()));
}

}  // namespace lazyroot::cli
