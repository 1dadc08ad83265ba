// SipHash-2-4 (Aumasson and Bernstein): a keyed pseudorandom function, used to pseudonymise the
// shop's user ids in model files. Without the key the hashes reveal nothing about the ids.
#pragma once

#include <cstdint>
#include <string_view>

namespace comptoir::internal {

struct SipKey {
  std::uint64_t k0 = 0, k1 = 0;
};

std::uint64_t SipHash24(const SipKey& key, std::string_view data);

// A 128-bit key from a host's secret of any length (hashed under two fixed keys).
SipKey DeriveSipKey(std::string_view secret);

}  // namespace comptoir::internal
