#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

namespace lazyroot::fixtures {

// A fresh directory under /tmp (mkdtemp), removed with everything in it when
// the object goes away.
class TempDir {
public:
    // Creates /tmp/<prefix>-XXXXXX; throws std::runtime_error on failure.
    explicit TempDir(std::string_view prefix = "lazyroot-fixture");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

    // Writes `bytes` to path()/name (replacing it) and returns the full path.
    std::filesystem::path write_file(std::string_view name, std::span<const uint8_t> bytes) const;
    std::filesystem::path write_file(std::string_view name, std::string_view text) const;

private:
    std::filesystem::path path_;
};

}  // namespace lazyroot::fixtures
