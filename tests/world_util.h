// A tiny world-model training configuration shared by the world-model test suites (seconds).
#pragma once

#include "amrs/worldmodel/train.h"

namespace amrs::testing {

// d_model 16, 2 heads, 1 layer, 8 song components, 1 epoch over at most 10 train users.
inline worldmodel::TrainOptions TinyTrainOptions() {
  worldmodel::TrainOptions o;
  o.model.d_model = 16;
  o.model.heads = 2;
  o.model.layers = 1;
  o.model.ff = 32;
  o.model.head_hidden = 16;
  o.model.song_components = 8;
  o.epochs = 1;
  o.batch_tokens = 512;
  o.max_train_users = 10;
  o.progress_bar = false;
  return o;
}

}  // namespace amrs::testing
