#include "http/header_file.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <strings.h>

namespace lazyroot::http {
namespace {

// RFC 9110 token characters: what a field name may be made of.
bool is_tchar(unsigned char c) { return std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr; }

// Headers lazyroot sets itself to read exactly the bytes of the image it
// attached: one from the file would defeat the range and identity checks.
constexpr std::array kReserved = {
    "range", "if-range",       "if-match",          "if-none-match", "if-modified-since", "if-unmodified-since",
    "host",  "content-length", "transfer-encoding", "connection"};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

std::vector<std::string> parse_header_lines(std::string_view text, const std::string& path) {
    std::vector<std::string> out;
    unsigned line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // a file written on Windows
        const std::string_view t = trim(line);
        if (t.empty() || t.front() == '#') continue;
        const std::string where = "--header-file " + path + " line " + std::to_string(line_no) + ": ";
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0)
            throw std::runtime_error(where + "not a 'Name: value' header");
        const std::string_view name = line.substr(0, colon);
        if (!std::all_of(name.begin(), name.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); }))
            throw std::runtime_error(where + "not a 'Name: value' header (the name must be a token, no blanks)");
        const std::string_view value = trim(line.substr(colon + 1));
        if (value.empty()) throw std::runtime_error(where + "header " + std::string(name) + " has no value");
        // A control character would end the header early and smuggle in
        // another; the value itself is not repeated here.
        for (unsigned char c : value)
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                throw std::runtime_error(where + "a control character in the value of " + std::string(name));
        for (const char* r : kReserved)
            if (name.size() == std::strlen(r) && strncasecmp(name.data(), r, name.size()) == 0)
                throw std::runtime_error(where + std::string(name) +
                                         " is set by lazyroot itself (range and image identity checks)");
        out.push_back(std::string(name) + ": " + std::string(value));
    }
    return out;
}

std::vector<std::string> read_header_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("--header-file " + path + ": " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw std::runtime_error("--header-file " + path + ": read error");
    return parse_header_lines(text.str(), path);
}

}  // namespace lazyroot::http
