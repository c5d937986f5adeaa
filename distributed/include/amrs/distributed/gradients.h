// Data-parallel training helpers (torch types; included only by the torch modules' sources).
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "amrs/distributed/distributed.h"

namespace amrs::distributed {

// Sums the gradients of `params` over the ranks in one all-reduce (a parameter without a gradient
// on this rank counts as zeros and gets the sum), with `extra` values appended to the same buffer
// (e.g. the step's loss, so that every rank sees the same non-finite loss); returns the summed
// extras. Every rank must pass the same parameters in the same order.
std::vector<float> AllReduceGradients(const std::vector<torch::Tensor>& params, std::vector<float> extra,
                                      Communicator& comm, const std::string& phase);

// A digest of the parameters' values (for CheckSame: every rank starts from the same weights).
std::string ParameterDigest(const std::vector<torch::Tensor>& params);

}  // namespace amrs::distributed
