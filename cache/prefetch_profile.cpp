#include "cache/prefetch_profile.h"

#include <charconv>
#include <unordered_set>

namespace lazyroot::cache {
namespace {

constexpr std::string_view kMagic = "lazyroot-profile 1";

// Decimal as encode_profile writes it: no sign, no leading zero.
bool number(std::string_view s, uint64_t& out) {
    if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

// The next line of `text` from `pos` (without its '\n'); false at the end.
// Every line, the last one too, ends in '\n': a file cut short is refused.
bool next_line(std::string_view text, size_t& pos, std::string_view& line) {
    if (pos >= text.size()) return false;
    const size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
        pos = text.size() + 1;  // marks the unterminated line
        return false;
    }
    line = text.substr(pos, nl - pos);
    pos = nl + 1;
    return true;
}

bool keyed(std::string_view line, std::string_view key, std::string_view& value) {
    if (line.size() <= key.size() + 1 || line.substr(0, key.size()) != key || line[key.size()] != ' ') return false;
    value = line.substr(key.size() + 1);
    return true;
}

}  // namespace

std::string encode_profile(const PrefetchProfile& p) {
    std::string out;
    out.reserve(96 + p.image.size() + p.chunks.size() * 8);
    out += kMagic;
    out += "\nimage " + p.image + "\nsize " + std::to_string(p.image_size) + "\nchunk-size " +
           std::to_string(p.chunk_size) + "\nchunks " + std::to_string(p.chunks.size()) + "\n";
    for (uint64_t c : p.chunks) (out += std::to_string(c)) += '\n';
    return out;
}

std::variant<PrefetchProfile, std::string> parse_profile(std::string_view text) {
    if (text.size() > kMaxProfileBytes) return std::string("larger than any profile (16 MiB)");
    size_t pos = 0;
    std::string_view line, value;
    if (!next_line(text, pos, line) || line != kMagic) return std::string("not a lazyroot profile (no header line)");
    PrefetchProfile p;
    if (!next_line(text, pos, line) || !keyed(line, "image", value)) return std::string("no image line");
    for (char c : value)
        if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
            return std::string("the image identity is not printable");
    p.image = value;
    uint64_t n = 0;
    if (!next_line(text, pos, line) || !keyed(line, "size", value) || !number(value, p.image_size) || p.image_size == 0)
        return std::string("no valid size line");
    if (!next_line(text, pos, line) || !keyed(line, "chunk-size", value) || !number(value, n) || n < 4096 ||
        n > (64u << 20) || (n & (n - 1)) != 0)
        return std::string("no valid chunk-size line (a power of two, 4 KiB to 64 MiB)");
    p.chunk_size = static_cast<uint32_t>(n);
    uint64_t count = 0;
    if (!next_line(text, pos, line) || !keyed(line, "chunks", value) || !number(value, count) ||
        count > p.chunk_count())
        return std::string("no valid chunks line");
    // Each chunk line takes two bytes at least: a count the rest cannot hold
    // is a file cut short, found before anything is reserved for it.
    if (count > (text.size() - pos) / 2) return std::string("cut short: fewer chunk lines than the count");
    p.chunks.reserve(count);
    std::unordered_set<uint64_t> seen;
    seen.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
        if (!next_line(text, pos, line))
            return std::string("cut short: ") + std::to_string(i) + " of " + std::to_string(count) + " chunks";
        uint64_t c = 0;
        if (!number(line, c) || c >= p.chunk_count())
            return "chunk line " + std::to_string(i + 1) + ": not a chunk of the image";
        if (!seen.insert(c).second) return "chunk line " + std::to_string(i + 1) + ": a chunk named twice";
        p.chunks.push_back(c);
    }
    if (pos != text.size()) return std::string("more after the last chunk");
    return p;
}

}  // namespace lazyroot::cache
