// NumPy <-> C++ helpers shared by every binding file.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "absl/types/span.h"
#include "comptoir/options.h"

namespace comptoir::python {

namespace py = pybind11;

// Arrays read in place: the caller converts dtypes and says so.
template <typename T>
using CArray = py::array_t<T, py::array::c_style>;
// Arrays where a cast is cheap next to the work done on them (metrics, model fitting).
template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <typename T, int Flags>
absl::Span<const T> SpanOf(const py::array_t<T, Flags>& array) {
  return absl::Span<const T>(array.data(), static_cast<std::size_t>(array.size()));
}

template <typename T, int Flags>
absl::Span<const T> SpanOf(const std::optional<py::array_t<T, Flags>>& array) {
  return array ? SpanOf(*array) : absl::Span<const T>();
}

template <typename T>
py::array_t<T> ToNumpy(const std::vector<T>& values) {
  return py::array_t<T>(static_cast<py::ssize_t>(values.size()), values.data());
}

// Hands a vector's buffer to NumPy without copying: the capsule owns the moved vector.
template <typename T>
py::array_t<T> MoveToNumpy(std::vector<T>&& values, std::vector<py::ssize_t> shape = {}) {
  auto* owned = new std::vector<T>(std::move(values));
  py::capsule release(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  if (shape.empty()) shape = {static_cast<py::ssize_t>(owned->size())};
  return py::array_t<T>(shape, owned->data(), release);
}

// Ranked rows of different lengths as (ids, scores) arrays of shape (rows, k), padded with id -1
// and score -inf. `id(r, i)` and `score(r, i)` read entry i of row r; `length(r)` its size.
template <typename Length, typename Id, typename Score>
py::tuple PaddedTopK(std::size_t rows, int k, Length&& length, Id&& id, Score&& score) {
  CArray<std::int32_t> ids({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(k)});
  CArray<float> scores({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(k)});
  auto id_out = ids.template mutable_unchecked<2>();
  auto score_out = scores.template mutable_unchecked<2>();
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t n = length(r);
    for (std::size_t i = 0; i < static_cast<std::size_t>(k); ++i) {
      const bool hit = i < n;
      id_out(r, i) = hit ? id(r, i) : -1;
      score_out(r, i) = hit ? score(r, i) : -std::numeric_limits<float>::infinity();
    }
  }
  return py::make_tuple(ids, scores);
}

using RowMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A C-contiguous float64 array seen as a row-major matrix, without a copy.
inline Eigen::Map<const RowMatrixD> MatrixOf(const Array<double>& X) {
  if (X.ndim() != 2) throw py::value_error("X must be a 2-D array (rows x features)");
  return Eigen::Map<const RowMatrixD>(X.data(), X.shape(0), X.shape(1));
}

// Options for a call that takes only a thread count from Python.
inline ExecutionOptions ThreadOptions(int num_threads) {
  ExecutionOptions options;
  options.num_threads = num_threads;
  return options;
}

}  // namespace comptoir::python
