// libFuzzer target: the TOML scenario reader (parse, check, apply no overrides).
#include <cstddef>
#include <cstdint>
#include <string>

#include "amrs/scenarios/scenario.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  amrs::fuzz::ExpectAcceptOrInputError([&] { amrs::scenarios::ParseScenarioText(text, "fuzz.toml"); },
                                       "fuzz.toml");
  return 0;
}
