#include "cli/source_uri.h"

#include <stdexcept>
#include <vector>

#include "cli/options.h"
#include "http/s3_url.h"
#include "http/url_check.h"
#include "nvmetcp/host_identity.h"
#include "nvmetcp/target_uri.h"

namespace lazyroot::cli {
namespace {

bool starts_with(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

void check_http_url(const std::string& url, const char* what) {
    if (auto why = http::url_error(url))
        throw UsageError(std::string(what) + ": not a usable URL (" + *why + "): " + url);
}

// An option given for a SOURCE it does nothing for: refused, not ignored.
void refuse_unless(bool applies, const AttachOptions& o, const char* option, const char* needs) {
    if (!applies && o.given(option)) throw UsageError(std::string(option) + " needs " + needs);
}

}  // namespace

SourceUri parse_source_uri(const std::string& text) {
    SourceUri uri;
    uri.text = text;
    if (starts_with(text, "file://")) {
        uri.kind = SourceUri::Kind::File;
        uri.path = text.substr(7);
        if (uri.path.empty() || uri.path[0] != '/')
            throw UsageError("file source needs an absolute path: file:///path/to/image (got " + text + ")");
        return uri;
    }
    if (starts_with(text, "http://") || starts_with(text, "https://")) {
        uri.kind = SourceUri::Kind::Http;
        check_http_url(text, "SOURCE");
        return uri;
    }
    if (starts_with(text, "s3://")) {
        uri.kind = SourceUri::Kind::Http;
        uri.s3 = true;
        try {
            http::parse_s3_url(text);
        } catch (const std::invalid_argument& e) {
            throw UsageError(e.what());
        }
        return uri;
    }
    if (starts_with(text, "nvme+tcp://")) {
        uri.kind = SourceUri::Kind::NvmeTcp;
        try {
            nvmetcp::parse_target_uri(text);
        } catch (const std::invalid_argument& e) {
            throw UsageError(e.what());
        }
        return uri;
    }
    throw UsageError("unsupported SOURCE " + text + ": expected file:///path, http(s)://…, s3://… or nvme+tcp://…");
}

void check_source_options(const SourceUri& uri, const AttachOptions& o) {
    const bool http = uri.kind == SourceUri::Kind::Http;
    const bool nvme = uri.kind == SourceUri::Kind::NvmeTcp;
    const bool network = uri.kind != SourceUri::Kind::File;
    // A tree fetched over http(s) from a file:// image still resolves its host.
    const bool any_http = http || starts_with(o.hash_source, "http://") || starts_with(o.hash_source, "https://");
    refuse_unless(nvme, o, "--nvme-transport", "an nvme+tcp:// SOURCE");
    refuse_unless(http, o, "--coalesce", "an http(s):// SOURCE");
    refuse_unless(any_http, o, "--resolve", "an http(s):// SOURCE or --hash-source");
    refuse_unless(http, o, "--connections", "an http(s):// SOURCE");
    refuse_unless(http, o, "--max-connections", "an http(s):// SOURCE");
    refuse_unless(any_http, o, "--http-version", "an http(s):// SOURCE or --hash-source");
    refuse_unless(any_http, o, "--header-file", "an http(s):// SOURCE or --hash-source");
    if (!o.profile.empty() && o.cache.empty() && o.mode != Mode::Hydrate)
        throw UsageError("--profile needs --cache or --mode=hydrate (a profile fills a cache)");
    if (o.profile == "auto" && !http && uri.kind != SourceUri::Kind::File)
        throw UsageError("--profile=auto needs a file:// or http(s):// SOURCE (the profile beside the image)");
    if (o.given("--profile-record-secs") && o.profile_record.empty())
        throw UsageError("--profile-record-secs needs --profile-record");
    refuse_unless(network, o, "--readahead", "a network SOURCE (http(s):// or nvme+tcp://)");
    if (!http && (!o.ca_file.empty() || !o.cert_file.empty()))
        throw UsageError("--ca/--cert/--key need an https:// SOURCE");
    if (!o.hostnqn.empty()) {
        if (!nvme) throw UsageError("--hostnqn needs an nvme+tcp:// SOURCE");
        try {
            nvmetcp::check_nqn(o.hostnqn, "--hostnqn");
        } catch (const std::invalid_argument& e) {
            throw UsageError(e.what());
        }
    }
    // NVMe/TCP has no TLS here: clear text, unauthenticated. Without verity
    // nothing checks the bytes, the same rule as plain http://.
    if (nvme && !o.insecure && o.verity == VerityKind::None)
        throw UsageError("nvme+tcp:// is clear text and unauthenticated: without --verity it needs --insecure: " +
                         uri.text);
    for (const char* opt : {"--s3-endpoint", "--s3-region", "--s3-credentials"})
        refuse_unless(uri.s3, o, opt, "an s3:// SOURCE");
    if (!http && !o.mirrors.empty()) throw UsageError("--mirror needs an http(s):// SOURCE");
    if (!http) return;
    // An s3:// SOURCE is fetched from its endpoint: the clear-text rule below
    // applies to that URL.
    std::string source_url = uri.text;
    if (uri.s3) {
        if (!o.mirrors.empty())
            throw UsageError("--mirror needs an http(s):// SOURCE (an s3:// object has no mirrors here)");
        if (!http::valid_s3_region(o.s3_region))
            throw UsageError("--s3-region: not a region name (a-z 0-9 -, as us-east-1): " + o.s3_region);
        if (!o.s3_endpoint.empty()) {
            if (!starts_with(o.s3_endpoint, "http://") && !starts_with(o.s3_endpoint, "https://"))
                throw UsageError("--s3-endpoint must be an http(s):// URL: " + o.s3_endpoint);
            check_http_url(o.s3_endpoint, "--s3-endpoint");
            if (o.s3_endpoint.find_first_of("?#") != std::string::npos)
                throw UsageError("--s3-endpoint takes no query: " + o.s3_endpoint);
        }
        source_url = o.s3_endpoint.empty() ? http::default_s3_endpoint(o.s3_region) : o.s3_endpoint;
    }
    for (const auto& m : o.mirrors) {
        if (!starts_with(m, "http://") && !starts_with(m, "https://"))
            throw UsageError("--mirror must be an http(s):// URL: " + m);
        check_http_url(m, "--mirror");
    }
    std::vector<std::string> all = o.mirrors;
    all.insert(all.begin(), source_url);
    for (const auto& u : all) {
        // Without verity nothing authenticates plain-HTTP bytes.
        if (starts_with(u, "http://") && !o.insecure && o.verity == VerityKind::None)
            throw UsageError("plain http:// is clear text and unauthenticated: without --verity it needs --insecure: " +
                             u);
    }
}

}  // namespace lazyroot::cli
