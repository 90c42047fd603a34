#include "cli/prepare_compressed.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "compress/seekable_writer.h"
#include "io/log.h"
#include "verity/manifest.h"
#include "verity/prepare.h"

namespace lazyroot::cli {

int run_prepare_command(const PrepareOptions& o) {
    if (int r = verity::run_prepare(o); r != 0 || o.compress_level == 0) return r;
    compress::CompressOptions c;
    c.input = o.image;
    c.output = o.image + ".zst";
    c.level = o.compress_level;
    c.frame_bytes = o.frame_kib * 1024;
    const auto res = compress::compress_seekable(c);

    std::ifstream in(verity::manifest_path(o.image));
    std::stringstream text;
    text << in.rdbuf();
    verity::Manifest m = verity::parse_manifest(text.str());
    m.compression = verity::ManifestCompression{"zstd-seekable", c.frame_bytes, res.output_bytes};
    verity::write_manifest_file(verity::manifest_path(c.output), verity::format_manifest(m));
    log::info("%s: %llu bytes in %llu frames of %u KiB, %.1f%% of the image; manifest %s", c.output.c_str(),
              static_cast<unsigned long long>(res.output_bytes), static_cast<unsigned long long>(res.frames),
              o.frame_kib, 100.0 * static_cast<double>(res.output_bytes) / static_cast<double>(res.input_bytes),
              verity::manifest_path(c.output).c_str());
    return 0;
}

}  // namespace lazyroot::cli
