#pragma once
#include <memory>
#include <string>

#include "io/source.h"

namespace lazyroot::cli {

// SOURCE as given on the command line, split into what selects a backend.
struct SourceUri {
    enum class Kind { File, Http, NvmeTcp };
    Kind kind = Kind::File;
    std::string text;  // as given
    std::string path;  // File: the absolute path
};

// Throws cli::UsageError with a one-line reason.
SourceUri parse_source_uri(const std::string& text);

// Opens the backend for `uri`. Throws std::runtime_error with a one-line reason.
std::unique_ptr<io::Source> open_source(const SourceUri& uri);

}  // namespace lazyroot::cli
