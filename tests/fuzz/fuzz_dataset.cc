// libFuzzer target: the HDF5 dataset reader (ReadDataset validates every group, field and row).
#include <cstddef>
#include <cstdint>

#include "amrs/data/dataset.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = amrs::fuzz::WriteScratch("data.h5", {reinterpret_cast<const char*>(data), size});
  amrs::fuzz::ExpectAcceptOrInputError([&] { amrs::data::ReadDataset(path); }, path);
  return 0;
}
