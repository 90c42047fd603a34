#include "http/s3_credentials.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace lazyroot::http {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// A value is copied into a header and a signature: nothing but printable
// ASCII without blanks (what AWS keys and tokens are made of).
bool printable_token(std::string_view v) {
    for (unsigned char c : v)
        if (c <= 0x20 || c >= 0x7f) return false;
    return !v.empty();
}

}  // namespace

S3Credentials parse_s3_credentials(std::string_view text, const std::string& path) {
    const std::string file = "--s3-credentials " + path;
    S3Credentials c;
    std::string section;
    bool seen_default = false;
    unsigned line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const size_t nl = text.find('\n');
        const std::string_view line = trim(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (line.empty() || line.front() == '#' || line.front() == ';') continue;
        const std::string where = file + " line " + std::to_string(line_no) + ": ";
        if (line.front() == '[') {
            if (line.back() != ']') throw std::runtime_error(where + "an unclosed [section]");
            section = std::string(trim(line.substr(1, line.size() - 2)));
            seen_default |= section == "default";
            continue;
        }
        const size_t eq = line.find('=');
        if (eq == std::string_view::npos) throw std::runtime_error(where + "not a 'name = value' line");
        if (section != "default") continue;  // other profiles are not ours
        const std::string name(trim(line.substr(0, eq)));
        const std::string_view value = trim(line.substr(eq + 1));
        std::string* into = name == "aws_access_key_id"       ? &c.access_key
                            : name == "aws_secret_access_key" ? &c.secret_key
                            : name == "aws_session_token"     ? &c.session_token
                                                              : nullptr;
        if (!into) continue;  // region, output, …: not needed here
        if (!printable_token(value))
            throw std::runtime_error(where + name + " is empty or holds blanks or control characters");
        *into = value;
    }
    if (!seen_default) throw std::runtime_error(file + ": no [default] profile");
    if (c.access_key.empty()) throw std::runtime_error(file + ": no aws_access_key_id in [default]");
    if (c.secret_key.empty()) throw std::runtime_error(file + ": no aws_secret_access_key in [default]");
    return c;
}

S3Credentials read_s3_credentials_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("--s3-credentials " + path + ": " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return parse_s3_credentials(text.str(), path);
}

std::optional<S3Credentials> s3_credentials_from_env() {
    const char* id = std::getenv("AWS_ACCESS_KEY_ID");
    const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
    if (!id || !*id || !secret || !*secret) return std::nullopt;
    S3Credentials c{id, secret, {}};
    if (const char* token = std::getenv("AWS_SESSION_TOKEN")) c.session_token = token;
    if (!printable_token(c.access_key) || !printable_token(c.secret_key) ||
        (!c.session_token.empty() && !printable_token(c.session_token)))
        throw std::runtime_error(
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN hold blanks or control characters");
    return c;
}

}  // namespace lazyroot::http
