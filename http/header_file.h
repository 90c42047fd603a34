#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace lazyroot::http {

// --header-file: extra request headers, one "Name: value" per line; blank
// lines and lines starting with '#' are skipped. The values are secrets (a
// bearer token): they go on the wire and nowhere else, so an error names the
// file and the line number, never the value.
//
// Returns the headers as "Name: value" lines for CURLOPT_HTTPHEADER. Throws
// std::runtime_error with a one-line reason for a file that cannot be read or
// a malformed line.
std::vector<std::string> read_header_file(const std::string& path);

// The same for the file's text; `path` only names it in errors.
std::vector<std::string> parse_header_lines(std::string_view text, const std::string& path);

}  // namespace lazyroot::http
