// What Python computed with a saved model, read back so that C++ can reproduce it exactly. The
// files are written by tests/golden/make_golden.py: blocks of
//   matrix <name> <rows> <cols>      followed by rows * cols numbers (shortest round-trip text)
//   strings <name> <count>           followed by one string per line
#pragma once

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace comptoir::testing {

struct Block {
  std::int64_t rows = 0, cols = 0;
  std::vector<double> values;         // matrices, row-major
  std::vector<std::string> strings;   // string lists
  double at(std::int64_t r, std::int64_t c) const { return values[static_cast<std::size_t>(r * cols + c)]; }
};

using ExpectedOutputs = std::map<std::string, Block>;

inline absl::StatusOr<ExpectedOutputs> ReadExpectedOutputs(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  ExpectedOutputs out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream header(line);
    std::string type, name;
    header >> type >> name;
    Block block;
    if (type == "matrix") {
      header >> block.rows >> block.cols;
      block.values.reserve(static_cast<std::size_t>(block.rows * block.cols));
      std::string token;
      for (std::int64_t i = 0; i < block.rows * block.cols; ++i) {
        if (!(in >> token)) return absl::DataLossError(absl::StrCat(path, ": block ", name, " is short"));
        block.values.push_back(std::strtod(token.c_str(), nullptr));
      }
      std::getline(in, line);  // the rest of the last line
    } else if (type == "strings") {
      std::int64_t count = 0;
      header >> count;
      for (std::int64_t i = 0; i < count; ++i) {
        if (!std::getline(in, line)) return absl::DataLossError(absl::StrCat(path, ": block ", name, " is short"));
        block.strings.push_back(line);
      }
      block.rows = count;
    } else {
      return absl::DataLossError(absl::StrCat(path, ": unknown block type '", type, "'"));
    }
    out[name] = std::move(block);
  }
  return out;
}

}  // namespace comptoir::testing
