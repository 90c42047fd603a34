#include "cli/source_uri.h"

#include <stdexcept>

#include "cli/options.h"
#include "io/file_source.h"

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
        return uri;
    }
    throw UsageError("unsupported SOURCE " + text +
                     ": expected file:///path, http(s)://… or nvme+tcp://…");
}

std::unique_ptr<io::Source> open_source(const SourceUri& uri) {
    switch (uri.kind) {
        case SourceUri::Kind::File:
            return io::FileSource::open(uri.path);
        case SourceUri::Kind::Http:
            throw std::runtime_error("http(s) sources are not available in this build yet: " + uri.text);
        case SourceUri::Kind::NvmeTcp:
            throw std::runtime_error("nvme+tcp sources are not available in this build yet: " + uri.text);
    }
    throw std::logic_error("unreachable");
}

}  // namespace lazyroot::cli
