#pragma once
#include <cctype>
#include <string_view>

namespace lazyroot::io {

// ASCII case-insensitive equality: URL schemes and HTTP header names.
inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

}  // namespace lazyroot::io
