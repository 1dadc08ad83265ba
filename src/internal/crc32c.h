// CRC-32C (Castagnoli), the checksum of model-file blobs. Uses SSE4.2 when the CPU has it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace comptoir::internal {

std::uint32_t Crc32c(const void* data, std::size_t size, std::uint32_t crc = 0);
inline std::uint32_t Crc32c(std::string_view bytes) { return Crc32c(bytes.data(), bytes.size()); }

}  // namespace comptoir::internal
