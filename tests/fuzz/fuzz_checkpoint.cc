// libFuzzer target: the checkpoint readers (world model and policy). Every input is offered to
// both: each must load a checkpoint of its own kind made for the fixture dataset, and refuse
// anything else with an InputError naming the file. The fixture (tests/fuzz/fixture/tiny.h5) is
// the dataset the corpus's checkpoints were trained on (tests/fuzz/make_corpus.sh).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "amrs/agents/policy.h"
#include "amrs/data/dataset.h"
#include "amrs/worldmodel/world_model.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const amrs::data::Dataset dataset = amrs::data::ReadDataset(AMRS_FUZZ_FIXTURE);
  const auto path = amrs::fuzz::WriteScratch("checkpoint.pt", {reinterpret_cast<const char*>(data), size});
  amrs::fuzz::ExpectAcceptOrInputError(
      [&] {
        amrs::worldmodel::WorldModel::ReadInfo(path);
        amrs::worldmodel::WorldModel::Load(path, dataset);
      },
      path);
  amrs::fuzz::ExpectAcceptOrInputError(
      [&] {
        amrs::agents::ReadPolicyInfo(path);
        std::vector<amrs::History> histories(1);
        const auto logits = amrs::agents::PolicyLogits(path, dataset, histories);
        if (logits.size() != static_cast<std::size_t>(dataset.num_songs())) __builtin_trap();
      },
      path);
  return 0;
}
