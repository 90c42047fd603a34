#include "cli/source_uri.h"

#include "cli/root_daemon.h"

#include <algorithm>
#include <stdexcept>

#include "cli/options.h"
#include "cache/readahead.h"
#include "compress/seekable_source.h"
#include "http/http_source.h"
#include "io/file_source.h"
#include "nvmetcp/host_identity.h"
#include "nvmetcp/kernel_source.h"
#include "nvmetcp/nvme_source.h"
#include "nvmetcp/target_uri.h"

namespace lazyroot::cli {
namespace {

bool starts_with(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

}  // namespace

SourceUri parse_source_uri(const std::string& text) {
    SourceUri uri;
    uri.text = text;
    if (starts_with(text, "file://")) {
        uri.kind = SourceUri::Kind::File;
        uri.path = text.substr(7);
        if (uri.path.empty() || uri.path[0] != '/')
            throw UsageError("file source needs an absolute path: file:///path/to/image (got " +
                             text + ")");
        return uri;
    }
    if (starts_with(text, "http://") || starts_with(text, "https://")) {
        uri.kind = SourceUri::Kind::Http;
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
    throw UsageError("unsupported SOURCE " + text +
                     ": expected file:///path, http(s)://… or nvme+tcp://…");
}

void check_source_options(const SourceUri& uri, const AttachOptions& o) {
    const bool http = uri.kind == SourceUri::Kind::Http;
    if (o.nvme_transport != "user" && uri.kind != SourceUri::Kind::NvmeTcp)
        throw UsageError("--nvme-transport needs an nvme+tcp:// SOURCE");
    if (!o.hostnqn.empty()) {
        if (uri.kind != SourceUri::Kind::NvmeTcp) throw UsageError("--hostnqn needs an nvme+tcp:// SOURCE");
        try {
            nvmetcp::check_nqn(o.hostnqn, "--hostnqn");
        } catch (const std::invalid_argument& e) {
            throw UsageError(e.what());
        }
    }
    if (!http && !o.mirrors.empty()) throw UsageError("--mirror needs an http(s):// SOURCE");
    if (!http && (!o.ca_file.empty() || !o.cert_file.empty()))
        throw UsageError("--ca/--cert/--key need an https:// SOURCE");
    if (!http) return;
    std::vector<std::string> all = o.mirrors;
    all.insert(all.begin(), uri.text);
    for (const auto& u : all) {
        if (!starts_with(u, "http://") && !starts_with(u, "https://"))
            throw UsageError("--mirror must be an http(s):// URL: " + u);
        // Without verity nothing authenticates plain-HTTP bytes.
        if (starts_with(u, "http://") && !o.insecure && o.verity.empty())
            throw UsageError("plain http:// without verity needs --insecure: " + u);
    }
}

std::unique_ptr<io::Source> open_source(const SourceUri& uri) {
    return open_source(uri, AttachOptions{}, 1);
}

std::unique_ptr<io::Source> open_source(const SourceUri& uri, const AttachOptions& o,
                                        unsigned queues) {
    switch (uri.kind) {
        case SourceUri::Kind::File:
            // A zstd seekable image (found by its footer) is served decompressed.
            return compress::SeekableSource::wrap_if_seekable(io::FileSource::open(uri.path));
        case SourceUri::Kind::Http: {
            http::HttpOptions h;
            h.urls.push_back(uri.text);
            h.urls.insert(h.urls.end(), o.mirrors.begin(), o.mirrors.end());
            h.connections = o.connections;
            h.max_request_bytes = o.coalesce_kib * 1024;
            h.io_timeout = o.io_timeout;
            // Finite even with --io-timeout=infinity: a stalled connection is still abandoned.
            h.stall_timeout = io::at_most(h.stall_timeout, h.io_timeout);
            h.ca_file = o.ca_file;
        h.resolve = o.resolve;
            h.resolve = o.resolve;
            h.cert_file = o.cert_file;
            h.key_file = o.key_file;
            // In the initrd the root will be the device served: read TLS files
            // and resolve names now, never after switch_root.
            h.pin_at_attach = in_initrd();
            auto src = http::HttpSource::open(h);
            src->set_connections_per_queue((o.connections + queues - 1) / queues);
            if (o.readahead_mib == 0) return compress::SeekableSource::wrap_if_seekable(std::move(src));
            cache::ReadaheadOptions ra;
            ra.max_window_bytes = o.readahead_mib << 20;
            ra.chunk_bytes = std::min<uint32_t>(ra.chunk_bytes, ra.max_window_bytes);
            // Readahead works on the compressed bytes, below the decompression.
            return compress::SeekableSource::wrap_if_seekable(
                std::make_unique<cache::ReadaheadSource>(std::move(src), ra));
        }
        case SourceUri::Kind::NvmeTcp: {
            nvmetcp::NvmeTcpOptions n;
            n.uri = uri.text;
            n.hostnqn = o.hostnqn;
            n.io_timeout = o.io_timeout;
            std::unique_ptr<io::Source> src = o.nvme_transport == "kernel"
                                                  ? nvmetcp::open_kernel_source(n, queues)
                                                  : nvmetcp::NvmeTcpSource::open(n);
            if (o.readahead_mib == 0) return src;
            cache::ReadaheadOptions ra;
            ra.max_window_bytes = o.readahead_mib << 20;
            ra.chunk_bytes = std::min<uint32_t>(ra.chunk_bytes, ra.max_window_bytes);
            return std::make_unique<cache::ReadaheadSource>(std::move(src), ra);
        }
    }
    throw std::logic_error("unreachable");
}

}  // namespace lazyroot::cli
