// CRC-32C and TFRecord's masked CRC, shared by the TFRecord reader (io/tfrecord.hpp) and the
// TensorBoard event writer (train/event_writer.hpp), which frame records the same way.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hrnet::io {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF). `crc`
// continues a previous result: crc32c(b, nb, crc32c(a, na)) == crc32c of a followed by b.
std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0);
inline std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0) {
  return crc32c(bytes.data(), bytes.size(), crc);
}

// TFRecord's masked CRC: a CRC stored next to the data it covers is rotated and offset so that
// computing a CRC over data that embeds CRCs stays well behaved.
constexpr std::uint32_t mask_crc(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
constexpr std::uint32_t unmask_crc(std::uint32_t masked) {
  const std::uint32_t r = masked - 0xa282ead8u;
  return (r >> 17) | (r << 15);
}
static_assert(unmask_crc(mask_crc(0xE3069283u)) == 0xE3069283u, "unmask_crc must invert mask_crc");

}  // namespace hrnet::io
