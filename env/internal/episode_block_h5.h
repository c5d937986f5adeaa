// Internal: writes one episode block (one agent and seed) as an HDF5 group (CMake target
// amrs_episode_h5). Shared by the episode log (/runs/<agent>/seed-<seed>) and the stress file
// (/scenarios/<name>/runs/...), so both keep the layout documented in docs/log-format.md. Not
// installed.
#pragma once

#include <string>

#include "amrs/core/episodes.h"
#include "h5util.h"

namespace amrs::env {

// Creates `group` and writes the block's attributes and datasets into it.
void WriteEpisodeBlockH5(data::h5::File& f, const std::string& group, const EpisodeBlock& b);

}  // namespace amrs::env
