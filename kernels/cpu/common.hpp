// Shared helpers of the CPU backend (internal to kernels/cpu).
#pragma once
#include <Eigen/Core>
#include <cstdint>

#include "hrnet/backend/cpu.hpp"

namespace hrnet::cpu::detail {

template <class T> using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T> using MapMat = Eigen::Map<RowMat<T>>;
template <class T> using CMapMat = Eigen::Map<const RowMat<T>>;

// Fixed chunk size for reductions over pixels: the partition (and so the summation order) depends
// only on the problem size, never on the number of threads.
inline constexpr std::int64_t kReduceChunk = 1024;

inline std::int64_t conv_out_size(std::int64_t in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }

}  // namespace hrnet::cpu::detail
