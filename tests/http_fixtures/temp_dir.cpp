#include "tests/http_fixtures/temp_dir.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace lazyroot::fixtures {

TempDir::TempDir(std::string_view prefix) {
    std::string tmpl = "/tmp/" + std::string(prefix) + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
    path_ = buf.data();
}

TempDir::~TempDir() {
    std::error_code ec;  // a destructor must not throw; a leftover dir is harmless
    std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write_file(std::string_view name, std::span<const uint8_t> bytes) const {
    auto p = path_ / name;
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw std::runtime_error("cannot write " + p.string());
    return p;
}

std::filesystem::path TempDir::write_file(std::string_view name, std::string_view text) const {
    return write_file(name, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace lazyroot::fixtures
