#pragma once
// A systemd unit file read back the way systemd reads it (conf-parser.c,
// unit_full_printf, extract_first_word): for the generator's tests and its
// round-trip fuzzer. Test code: strict, and it says what is wrong rather than
// guessing.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lazyroot::testing {

struct UnitEntry {
    std::string section, key, value;
};

struct ParsedUnit {
    std::vector<UnitEntry> entries;
    std::string error;  // empty when well-formed

    std::vector<std::string> all(std::string_view section, std::string_view key) const {
        std::vector<std::string> out;
        for (const auto& e : entries)
            if (e.section == section && e.key == key) out.push_back(e.value);
        return out;
    }
    // The value of a key that must appear exactly once.
    std::optional<std::string> one(std::string_view section, std::string_view key) const {
        auto v = all(section, key);
        if (v.size() != 1) return std::nullopt;
        return v[0];
    }
};

inline std::string strip(std::string_view s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(" \t");
    return std::string(s.substr(b, e - b + 1));
}

// Lines, with a line ending in an odd number of backslashes continued on the
// next (the backslash becomes a space), comments, [Section], Key=Value.
inline ParsedUnit parse_unit(std::string_view text) {
    ParsedUnit u;
    std::string section, pending;
    bool continued = false;
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t nl = text.find('\n', pos);
        std::string line(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        for (unsigned char c : line)
            if (c < 0x20 && c != '\t') {
                u.error = "a control character in line: " + line;
                return u;
            }
        if (!continued) {
            const std::string s = strip(line);
            if (s.empty() || s[0] == '#' || s[0] == ';') continue;
        }
        size_t backslashes = 0;
        while (backslashes < line.size() && line[line.size() - 1 - backslashes] == '\\') ++backslashes;
        if (backslashes % 2 == 1) {
            line.back() = ' ';
            pending += line;
            continued = true;
            continue;
        }
        const std::string full = strip(pending + line);
        pending.clear();
        continued = false;
        if (full.front() == '[') {
            if (full.back() != ']') {
                u.error = "bad section line: " + full;
                return u;
            }
            section = full.substr(1, full.size() - 2);
            continue;
        }
        const size_t eq = full.find('=');
        if (eq == std::string::npos || section.empty()) {
            u.error = "not Key=Value in a section: " + full;
            return u;
        }
        u.entries.push_back({section, strip(full.substr(0, eq)), strip(full.substr(eq + 1))});
    }
    if (continued) u.error = "the last line is continued";
    return u;
}

// Specifiers: "%%" is '%'; any other is an error here (the generator writes none).
inline std::optional<std::string> unescape_specifiers(std::string_view v) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] != '%') {
            out += v[i];
            continue;
        }
        if (i + 1 >= v.size() || v[i + 1] != '%') return std::nullopt;
        out += '%';
        ++i;
    }
    return out;
}

// ExecStart= words: the prefixes (@-:+!) are left on the first word; words
// split at blanks; "…" and '…' quote; \ escapes the next character. '$' and
// '%' (expansions) are refused: the generator writes none.
inline std::optional<std::vector<std::string>> exec_words(std::string_view v) {
    std::vector<std::string> out;
    std::string cur;
    bool have = false;
    char quote = 0;
    for (size_t i = 0; i < v.size(); ++i) {
        const char c = v[i];
        if (c == '$' || c == '%') return std::nullopt;
        if (c == '\\') {
            if (++i >= v.size()) return std::nullopt;
            cur += v[i];
            have = true;
        } else if (quote) {
            if (c == quote)
                quote = 0;
            else
                cur += c;
        } else if (c == '"' || c == '\'') {
            quote = c;
            have = true;
        } else if (c == ' ' || c == '\t') {
            if (have) out.push_back(cur);
            cur.clear();
            have = false;
        } else {
            cur += c;
            have = true;
        }
    }
    if (quote) return std::nullopt;
    if (have) out.push_back(cur);
    return out;
}

// The checks every unit lazyroot-generator writes must pass; "" when it does.
inline std::string unit_problems(const ParsedUnit& u) {
    if (!u.error.empty()) return u.error;
    for (const char* k : {"Type", "ExecStart", "Restart", "NotifyAccess"})
        if (u.all("Service", k).size() > 1) return std::string("more than one ") + k + "=";
    for (const char* k : {"Description", "DefaultDependencies", "OnFailure"})
        if (u.all("Unit", k).size() > 1) return std::string("more than one ") + k + "=";
    const auto type = u.one("Service", "Type");
    if (!type) return "no Type=";
    if (*type != "notify" && *type != "oneshot") return "Type=" + *type;
    if (!u.one("Service", "ExecStart")) return "no ExecStart=";
    if (*type == "oneshot" && u.one("Service", "Restart").value_or("no") == "always")
        return "Type=oneshot with Restart=always (systemd refuses the unit)";
    if (*type != "notify" && u.one("Service", "NotifyAccess")) return "NotifyAccess= without Type=notify";
    if (!u.one("Unit", "Description")) return "no Description=";
    if (!unescape_specifiers(*u.one("Unit", "Description"))) return "a specifier in Description=";
    if (!exec_words(*u.one("Service", "ExecStart"))) return "ExecStart= does not split into words";
    return "";
}

}  // namespace lazyroot::testing
