// libFuzzer target: the .npy reader (float32/float64 matrices).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "amrs/data/csv_import.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = amrs::fuzz::WriteScratch("x.npy", {reinterpret_cast<const char*>(data), size});
  amrs::fuzz::ExpectAcceptOrInputError(
      [&] {
        std::int64_t rows = 0, cols = 0;
        const auto v = amrs::data::ReadNpy(path, rows, cols);
        if (rows < 0 || cols < 0 || v.size() != static_cast<std::size_t>(rows * cols)) __builtin_trap();
      },
      path);
  return 0;
}
